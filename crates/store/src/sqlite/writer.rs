//! The single writer: group commit, identity resolution and every other mutation.

use super::bloom::Bloom;
use super::deferred::{Deferred, Op};
use super::{hash_secret, hex, now_ms, read};
use crate::{IngestReport, StoreError};
use concierge_identity::{Graph, Owner, Rules, Target};
use concierge_types::consent::NewConsent;
use concierge_types::view::{ConsentRecord, ErasureReceipt, ErasureRecord, MergeView, Timestamp};
use concierge_types::{
    ApiKey, Identifier, IdentifierKind, KeyId, KeyScope, MergeId, NewEvent, ProfileId,
};
use hmac::{Hmac, Mac};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use sha2::Sha256;

/// The writer's maps hash short keys millions of times a second; foldhash is much faster than
/// SipHash there, and the keys come from our own database, not straight from attackers.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

pub(crate) enum Job {
    Ingest {
        events: Vec<NewEvent>,
        reply: Reply<IngestReport>,
    },
    Consent {
        id: ProfileId,
        consent: Box<NewConsent>,
        reply: Reply<ConsentRecord>,
    },
    Undo {
        id: MergeId,
        reply: Reply<MergeView>,
    },
    Erase {
        id: ProfileId,
        reply: Reply<Option<ErasureReceipt>>,
    },
    CreateKey {
        name: String,
        scope: KeyScope,
        reply: Reply<(ApiKey, String)>,
    },
    RevokeKey {
        id: KeyId,
        reply: Reply<bool>,
    },
    /// Any other write, run inside the group transaction (`true` = the transaction has already
    /// failed, answer without writing). Returns the deferred answer and, on a storage failure, its
    /// message, which rolls the whole transaction back.
    Write(WriteFn),
    Stop,
}

pub(crate) type WriteFn = Box<dyn FnOnce(&mut Writer, bool) -> (Answer, Option<String>) + Send>;

/// Wraps a write for [`Job::Write`]: runs `f` unless the transaction already failed, and answers
/// `reply` after the commit.
pub(crate) fn write_job<T: Send + 'static>(
    reply: Reply<T>,
    f: impl FnOnce(&mut Writer) -> Result<T, StoreError> + Send + 'static,
) -> Job {
    Job::Write(Box::new(move |w, aborted| {
        if aborted {
            return (
                answer(reply, Err(StoreError::Backend("aborted".into()))),
                None,
            );
        }
        // A failing job is undone alone; only a broken transaction fails the whole group.
        let (r, healthy) = w.isolated("job", f);
        let failed = match (&r, healthy) {
            (Err(e), false) => Some(e.to_string()),
            _ => None,
        };
        (answer(reply, r), failed)
    }))
}

impl Job {
    fn events(&self) -> usize {
        match self {
            Job::Ingest { events, .. } => events.len(),
            _ => 0,
        }
    }
}

/// An answer held back until the transaction has committed; on failure it answers the error.
/// The second argument says whether the WAL was scrubbed after the commit (erasures only).
pub(crate) type Answer = Box<dyn FnOnce(Option<&StoreError>, bool)>;

fn answer<T: 'static>(reply: Reply<T>, result: Result<T, StoreError>) -> Answer {
    Box::new(move |failed, _| {
        let _ = reply.send(match failed {
            Some(e) => Err(StoreError::Backend(e.to_string())),
            None => result,
        });
    })
}

#[derive(Debug, Clone, Copy)]
struct CachedIdent {
    id: i64,
    profile: i64,
    first_seen: i64,
    last_seen: i64,
}

/// What the writer remembers between transactions. Only the writer mutates the graph, so the cache
/// is exact; it is dropped whole when a transaction rolls back.
#[derive(Default)]
struct Cache {
    idents: HashMap<Identifier, CachedIdent>,
    canon: HashMap<i64, i64>,
    consent: HashMap<(i64, String, String), (i64, String)>,
    refused: HashSet<(i64, i64, String)>,
    /// Identifiers of each cluster root, kept exact through every change this writer makes.
    clusters: HashMap<i64, Vec<Identifier>>,
}

/// Entries kept before the identity cache is dropped and refilled from disk.
const CACHE_LIMIT: usize = 2_000_000;
/// "Last seen" of an identifier moves only when it advances by this much, to save a write per event.
const SEEN_RESOLUTION_MS: i64 = 60_000;

pub(crate) struct Writer {
    pub(super) conn: Connection,
    rules: Rules,
    pending: Arc<AtomicUsize>,
    /// Identity changes not yet in their tables (on disk in `identity_redo`), and the flag the
    /// store's read barrier looks at.
    deferred: Deferred,
    deferred_flag: Arc<AtomicBool>,
    /// Set when `identity_redo` may hold rows that `deferred` does not (at start, after a rollback
    /// or another process's writes): they are applied at the start of the next transaction.
    redo_unread: bool,
    /// The next identifier id to hand out (ids are given before the rows are written).
    next_ident: Option<i64>,
    max_batch: usize,
    salt: Vec<u8>,
    suppressed: HashSet<String>,
    dropped: HashMap<String, i64>,
    blocks: Vec<(i64, i64)>,
    cache: Cache,
    /// Every transaction of ours stamps `meta.writer` with `token:seq`. Finding anything else there
    /// at the start of a transaction means another process (e.g. `concierge import` beside `serve`)
    /// wrote in between, and the cache must be dropped.
    token: String,
    seq: u64,
    /// Every identifier in the store (up to id `known_upto`), to skip look-ups of new ones.
    known: Bloom,
    known_upto: i64,
    /// Whether any integration webhook is subscribed: without one, no integration events are kept.
    pub(super) hooks: bool,
}

impl Writer {
    pub(crate) fn new(
        conn: Connection,
        rules: Rules,
        pending: Arc<AtomicUsize>,
        deferred_flag: Arc<AtomicBool>,
        max_batch: usize,
        key_file: &Path,
    ) -> Result<Self, StoreError> {
        let salt = suppression_key(&conn, key_file)?;
        let mut w = Writer {
            conn,
            rules,
            pending,
            deferred: Deferred::default(),
            deferred_flag,
            redo_unread: true,
            next_ident: None,
            max_batch,
            salt,
            suppressed: HashSet::default(),
            dropped: HashMap::default(),
            known: Bloom::with_capacity(0),
            known_upto: 0,
            blocks: Vec::new(),
            cache: Cache::default(),
            token: random_hex(8)?,
            seq: 0,
            hooks: false,
        };
        w.reload()?;
        let waiting: bool =
            w.conn
                .query_row("SELECT EXISTS (SELECT 1 FROM identity_redo)", [], |r| {
                    r.get(0)
                })?;
        w.deferred_flag.store(waiting, Ordering::Release);
        Ok(w)
    }

    fn stamp(&self) -> String {
        format!("{}:{}", self.token, self.seq)
    }

    /// Adds identifiers written since the last refresh (by us or another process) to `known`,
    /// rebuilding it bigger when it has filled up.
    fn refresh_known(&mut self) -> Result<(), StoreError> {
        if self.known.is_full() || self.known_upto == 0 {
            // Built on the side and swapped in whole: a half-filled filter would have false negatives.
            let count: i64 = self
                .conn
                .query_row("SELECT COUNT(*) FROM identifiers", [], |r| r.get(0))?;
            let mut fresh = Bloom::with_capacity((count as usize).max(self.known.len()) * 2);
            let upto = self.add_known(&mut fresh, 0)?;
            self.known = fresh;
            self.known_upto = upto;
        } else {
            // Only adds: a partial top-up leaves no false negative behind `known_upto`.
            let mut known = std::mem::replace(&mut self.known, Bloom::with_capacity(0));
            let result = self.add_known(&mut known, self.known_upto);
            self.known = known;
            self.known_upto = result?;
        }
        Ok(())
    }

    /// Adds identifiers with ids above `from` to `bloom`; returns the highest id added.
    fn add_known(&self, bloom: &mut Bloom, from: i64) -> Result<i64, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, kind, value FROM identifiers WHERE id > ?1 ORDER BY id")?;
        let mut rows = stmt.query([from])?;
        let mut upto = from;
        while let Some(r) = rows.next()? {
            if let Some(kind) = IdentifierKind::parse(&r.get::<_, String>(1)?) {
                bloom.insert(&Identifier::from_stored(kind, r.get(2)?));
            }
            upto = r.get(0)?;
        }
        Ok(upto)
    }

    /// Reads the suppression list and merge blocks, and forgets the cache.
    fn reload(&mut self) -> Result<(), StoreError> {
        self.cache = Cache::default();
        // What this writer held is in the redo log (or was rolled back with its transaction).
        self.deferred = Deferred::default();
        self.redo_unread = true;
        self.next_ident = None;
        self.refresh_known()?;
        let mut stmt = self.conn.prepare("SELECT hash FROM suppressions")?;
        self.suppressed = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.conn.prepare("SELECT a_id, b_id FROM merge_blocks")?;
        self.blocks = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let hooks: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM subscriptions WHERE disabled_at IS NULL",
            [],
            |r| r.get(0),
        )?;
        self.hooks = hooks > 0;
        Ok(())
    }

    /// Runs `f` inside a savepoint. When it fails, only its writes are undone, and the caches
    /// (which may hold what it did) are dropped, so one bad job or delivery cannot fail the jobs
    /// committed with it. The flag says whether the transaction is still usable.
    pub(super) fn isolated<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut Self) -> Result<T, StoreError>,
    ) -> (Result<T, StoreError>, bool) {
        let run =
            |conn: &Connection, sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
        // Held identity changes go to their tables first, so that undoing `f` undoes only its own.
        if let Err(e) = self.deferred.apply(&self.conn) {
            return (Err(e), false);
        }
        if let Err(e) = run(&self.conn, &format!("SAVEPOINT {name}")) {
            return (Err(e.into()), false);
        }
        match f(self) {
            Ok(v) => match run(&self.conn, &format!("RELEASE {name}")) {
                Ok(_) => (Ok(v), true),
                Err(e) => (Err(e.into()), false),
            },
            Err(e) => {
                let undone = self
                    .conn
                    .execute_batch(&format!("ROLLBACK TO {name}; RELEASE {name}"))
                    .is_ok();
                tracing::warn!(error = %e, undone, "a write failed and was undone alone");
                self.cache = Cache::default();
                // Emptied before the savepoint, so this holds only what the failed job added.
                self.deferred = Deferred::default();
                (Err(e), undone)
            }
        }
    }

    /// Records an event for the integration webhooks, in the current transaction, so that what
    /// integrators hear about is exactly what was committed.
    pub(super) fn emit(
        &mut self,
        kind: &str,
        profile: Option<i64>,
        data: serde_json::Value,
    ) -> Result<(), StoreError> {
        if !self.hooks {
            return Ok(());
        }
        self.conn
            .prepare_cached(
                "INSERT INTO integration_events (type, profile_id, payload, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![kind, profile, data.to_string(), now_ms()])?;
        Ok(())
    }

    pub(crate) fn run(mut self, rx: mpsc::Receiver<Job>) {
        let mut stopping = false;
        loop {
            let mut jobs = Vec::new();
            let mut events = 0;
            if !stopping {
                // Held identity changes are applied after a quiet moment, not only under load.
                let next = match self.deferred.wait() {
                    Some(wait) => rx.recv_timeout(wait),
                    None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                };
                match next {
                    Ok(Job::Stop) => stopping = true,
                    Ok(job) => {
                        events += job.events();
                        jobs.push(job);
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => stopping = true,
                }
            }
            while events < self.max_batch {
                match rx.try_recv() {
                    Ok(Job::Stop) => stopping = true,
                    Ok(job) => {
                        events += job.events();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            if jobs.is_empty() {
                if !self.deferred.is_empty() && (stopping || self.deferred.due()) {
                    self.process(jobs);
                    continue;
                }
                if stopping {
                    break;
                }
                continue;
            }
            self.process(jobs);
            self.pending.fetch_sub(events, Ordering::AcqRel);
        }
        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
    }

    /// Runs `jobs` in one transaction and answers them after the commit.
    fn process(&mut self, jobs: Vec<Job>) {
        // Both are rebuilt from the tables, so only when they hold everything.
        if self.cache.idents.len() > CACHE_LIMIT && self.deferred.is_empty() {
            self.cache = Cache::default();
        }
        if self.known.is_full() && self.deferred.is_empty() {
            if let Err(e) = self.refresh_known() {
                tracing::warn!(error = %e, "growing the identifier filter failed; look-ups stay correct, only slower");
            }
        }
        let mut answers: Vec<Answer> = Vec::with_capacity(jobs.len());
        let mut checkpoint = false;
        let outcome = self.run_jobs(jobs, &mut answers, &mut checkpoint);
        let outcome =
            outcome.and_then(|()| self.conn.execute_batch("COMMIT").map_err(StoreError::from));
        match outcome {
            Ok(()) => {
                self.deferred_flag
                    .store(!self.deferred.is_empty(), Ordering::Release);
                let scrubbed = !checkpoint || self.truncate_wal();
                for a in answers {
                    a(None, scrubbed);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "write transaction failed, rolling back");
                let _ = self.conn.execute_batch("ROLLBACK");
                // Ids of the rolled-back identifiers may be handed out again: rebuild `known` whole.
                self.known_upto = 0;
                if let Err(e) = self.reload() {
                    tracing::error!(error = %e, "reloading writer state failed");
                }
                self.dropped.clear();
                for a in answers {
                    a(Some(&e), false);
                }
            }
        }
    }

    fn run_jobs(
        &mut self,
        jobs: Vec<Job>,
        answers: &mut Vec<Answer>,
        checkpoint: &mut bool,
    ) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let stamp: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'writer'")?
            .query_row([], |r| r.get(0))
            .optional()?;
        if stamp.as_deref() != Some(self.stamp().as_str()) {
            self.reload()?;
        }
        self.seq += 1;
        self.conn
            .prepare_cached("INSERT INTO meta (key, value) VALUES ('writer', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")?
            .execute([self.stamp()])?;
        if self.redo_unread {
            // Written before a crash, or by another process: into the tables before anything else.
            self.deferred.load(&self.conn)?;
            self.deferred.apply(&self.conn)?;
            self.redo_unread = false;
            self.refresh_known()?;
        }
        let idle = jobs.is_empty();
        // Held identity changes are applied before anything but ingestion, and when due.
        let must_apply = idle
            || self.deferred.due()
            || (self.cache.idents.len() > CACHE_LIMIT)
            || self.known.is_full();
        let mut failure = None;
        for job in jobs {
            if !matches!(job, Job::Ingest { .. }) && failure.is_none() {
                if let Err(e) = self.deferred.apply(&self.conn) {
                    failure = Some(e);
                }
            }
            // After a storage failure the transaction is rolled back and every job answered with it.
            macro_rules! run {
                ($reply:expr, $result:expr) => {{
                    let r = if failure.is_some() {
                        Err(StoreError::Backend("aborted".into()))
                    } else {
                        $result
                    };
                    if let (Err(StoreError::Backend(m)), None) = (&r, &failure) {
                        failure = Some(StoreError::Backend(m.clone()));
                    }
                    answers.push(answer($reply, r));
                }};
            }
            match job {
                Job::Ingest { events, reply } => run!(reply, self.ingest(events)),
                Job::Consent { id, consent, reply } => {
                    run!(reply, self.record_consent(id, *consent))
                }
                Job::Undo { id, reply } => run!(reply, self.undo(id)),
                Job::Erase { id, reply } => {
                    *checkpoint = true;
                    let r = if failure.is_some() {
                        Err(StoreError::Backend("aborted".into()))
                    } else {
                        self.erase(id)
                    };
                    if let (Err(StoreError::Backend(m)), None) = (&r, &failure) {
                        failure = Some(StoreError::Backend(m.clone()));
                    }
                    answers.push(Box::new(move |failed, scrubbed| {
                        let _ = reply.send(match failed {
                            Some(e) => Err(StoreError::Backend(e.to_string())),
                            None => r.map(|o| {
                                o.map(|receipt| ErasureReceipt {
                                    wal_scrubbed: scrubbed,
                                    ..receipt
                                })
                            }),
                        });
                    }));
                }
                Job::CreateKey { name, scope, reply } => run!(reply, self.create_key(&name, scope)),
                Job::RevokeKey { id, reply } => run!(
                    reply,
                    self.conn
                        .execute("UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL", params![now_ms(), id.0])
                        .map(|n| n == 1)
                        .map_err(StoreError::from)
                ),
                Job::Write(f) => {
                    let (a, failed) = f(self, failure.is_some());
                    if let (Some(m), None) = (failed, &failure) {
                        failure = Some(StoreError::Backend(m));
                    }
                    answers.push(a);
                }
                Job::Stop => {}
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        if must_apply || self.deferred.due() {
            self.deferred.apply(&self.conn)?;
        } else {
            self.deferred.log_transaction(&self.conn)?;
        }
        self.flush_dropped()
    }

    /// Removes old page images from the WAL so erased data does not linger there.
    /// Whether the WAL could be emptied; readers in the middle of a query can hold it for a moment.
    fn truncate_wal(&self) -> bool {
        // Each try waits at most 50 ms for readers, so an erasure stalls ingestion for ~3 s at worst.
        let _ = self.conn.busy_timeout(std::time::Duration::from_millis(50));
        let scrubbed = self.try_truncate_wal();
        let _ = self
            .conn
            .busy_timeout(std::time::Duration::from_millis(5000));
        scrubbed
    }

    fn try_truncate_wal(&self) -> bool {
        for _ in 0..40 {
            let busy: rusqlite::Result<i64> =
                self.conn
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0));
            match busy {
                Ok(0) => return true,
                Ok(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
                Err(e) => {
                    tracing::warn!(error = %e, "WAL checkpoint after erasure failed");
                    return false;
                }
            }
        }
        tracing::warn!(
            "WAL checkpoint after erasure stayed busy; it will complete at the next checkpoint"
        );
        false
    }

    // ---- ingestion ----

    fn ingest(&mut self, events: Vec<NewEvent>) -> Result<IngestReport, StoreError> {
        let mut report = IngestReport::default();
        for ev in events {
            if !self.suppressed.is_empty() && self.is_suppressed(&ev) {
                report.suppressed += 1;
                continue;
            }
            if self.store_event(ev)?.is_some() {
                report.accepted += 1;
            } else {
                report.duplicates += 1;
            }
        }
        Ok(report)
    }

    fn suppression_hash(&self, id: &Identifier) -> String {
        // HMAC with a per-installation key kept outside the database: a plain hash of a phone
        // number is reversible by brute force, and so is one whose key sits in the same backup.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.salt) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        // A WhatsApp id is the phone's digits: suppress both spellings of the line as one.
        match id.kind {
            IdentifierKind::WhatsappId => {
                mac.update(b"phone:+");
                mac.update(id.value.as_bytes());
            }
            kind => {
                mac.update(kind.as_str().as_bytes());
                mac.update(b":");
                mac.update(id.value.as_bytes());
            }
        }
        hex(&mac.finalize().into_bytes())
    }

    /// Whether `ev` belongs to an erased person (and is then counted as dropped).
    pub(super) fn suppresses(&mut self, ev: &NewEvent) -> bool {
        !self.suppressed.is_empty() && self.is_suppressed(ev)
    }

    fn is_suppressed(&mut self, ev: &NewEvent) -> bool {
        for id in &ev.identifiers {
            let h = self.suppression_hash(id);
            if self.suppressed.contains(&h) {
                *self.dropped.entry(h).or_default() += 1;
                return true;
            }
        }
        false
    }

    fn flush_dropped(&mut self) -> Result<(), StoreError> {
        for (hash, n) in self.dropped.drain() {
            self.conn
                .prepare_cached(
                    "UPDATE suppressions SET dropped_events = dropped_events + ?1 WHERE hash = ?2",
                )?
                .execute(params![n, hash])?;
        }
        Ok(())
    }

    /// Resolves and stores one event; returns the profile it was filed under and its id, or `None`
    /// when it is a duplicate (nothing is changed then).
    pub(super) fn store_event(&mut self, ev: NewEvent) -> Result<Option<(i64, i64)>, StoreError> {
        let plan = {
            let mut graph = TxGraph {
                conn: &self.conn,
                cache: &mut self.cache,
                blocks: &self.blocks,
                known: &self.known,
                deferred: &self.deferred,
            };
            concierge_identity::plan(&mut graph, &ev.identifiers, &self.rules)?
        };
        let now = now_ms();
        let (target, created) = match plan.target {
            Target::Existing(p) => (p.0, false),
            Target::New => (self.new_profile(now)?, true),
        };
        // The unique index decides duplicates as part of the insert; the plan has changed nothing
        // yet, so a duplicate leaves no trace (the profile made for it is taken back).
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO events (profile_id, dedup_key, kind, name, channel, source, ts, received_at, consent, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (dedup_key) DO NOTHING",
            )?
            .execute(params![
                target,
                ev.dedup_key,
                ev.kind.as_str(),
                ev.name,
                ev.channel,
                ev.source,
                ev.ts,
                ev.received_at,
                ev.consent_snapshot,
                ev.body
            ])?;
        if inserted == 0 {
            if created {
                self.conn
                    .prepare_cached("DELETE FROM profiles WHERE id = ?1")?
                    .execute([target])?;
                self.cache.canon.remove(&target);
                self.cache.clusters.remove(&target);
            }
            return Ok(None);
        }
        let event_id = self.conn.last_insert_rowid();
        if let Some(survivor) = plan.survivor {
            for (root, kind) in &plan.absorb {
                self.merge(survivor.0, root.0, &format!("shared {kind}"), event_id, now)?;
            }
        }
        for r in &plan.refused {
            let other = r.other.map(|o| o.0).unwrap_or(target);
            let key = (r.root.0.min(other), r.root.0.max(other), r.reason.clone());
            if self.cache.refused.insert(key) {
                self.conn
                    .prepare_cached(
                        "INSERT INTO merges (action, survivor_id, absorbed_id, members, reason, event_id, created_at)
                         VALUES ('refused', ?1, ?2, '[]', ?3, ?4, ?5)",
                    )?
                    .execute(params![other, r.root.0, r.reason, event_id, now])?;
            }
        }
        for id in &plan.attach {
            let row = self.next_ident_id()?;
            self.deferred.push(
                Op::Attach {
                    id: row,
                    kind: id.kind.as_str().to_string(),
                    value: id.value.clone(),
                    profile: target,
                    ts: ev.ts,
                    source: ev.source.clone(),
                    channel: ev.channel.clone(),
                },
                true,
            );
            let cached = CachedIdent {
                id: row,
                profile: target,
                first_seen: ev.ts,
                last_seen: ev.ts,
            };
            self.known_upto = self.known_upto.max(cached.id);
            self.known.insert(id);
            self.cache.idents.insert(id.clone(), cached);
            let root = self.cache.canon.get(&target).copied();
            if let Some(list) = root.and_then(|r| self.cache.clusters.get_mut(&r)) {
                list.push(id.clone());
            }
        }
        for id in &plan.seen {
            self.touch(id, ev.ts, &ev.source, &ev.channel)?;
        }
        for (key, value) in &ev.traits {
            self.deferred.push(
                Op::Trait {
                    profile: target,
                    key: key.clone(),
                    value: value.to_string(),
                    source: ev.source.clone(),
                    ts: ev.ts,
                },
                true,
            );
        }
        for consent in &ev.consents {
            let current =
                self.current_consent(target, consent.purpose.as_str(), consent.channel.as_str())?;
            if current.as_ref().map(|c| c.1.as_str()) != Some(consent.status.as_str()) {
                self.insert_consent(target, consent, Some(event_id), now)?;
            }
        }
        Ok(Some((target, event_id)))
    }

    /// Hands out the next identifier id; the row itself is written when `deferred` is applied.
    fn next_ident_id(&mut self) -> Result<i64, StoreError> {
        let next = match self.next_ident {
            Some(n) => n,
            None => {
                // AUTOINCREMENT's counter, so the ids of erased identifiers are not handed out again.
                let top: i64 = self.conn.query_row(
                    "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'identifiers'), 0),
                                COALESCE((SELECT MAX(id) FROM identifiers), 0))",
                    [],
                    |r| r.get(0),
                )?;
                top + 1
            }
        };
        self.next_ident = Some(next + 1);
        Ok(next)
    }

    fn new_profile(&mut self, now: i64) -> Result<i64, StoreError> {
        self.conn
            .prepare_cached("INSERT INTO profiles (canonical_id, created_at) VALUES (0, ?1)")?
            .execute([now])?;
        let id = self.conn.last_insert_rowid();
        self.conn
            .prepare_cached("UPDATE profiles SET canonical_id = ?1 WHERE id = ?1")?
            .execute([id])?;
        self.cache.canon.insert(id, id);
        self.cache.clusters.insert(id, Vec::new());
        Ok(id)
    }

    fn touch(
        &mut self,
        id: &Identifier,
        ts: i64,
        source: &str,
        channel: &str,
    ) -> Result<(), StoreError> {
        let Some(c) = self.cache.idents.get_mut(id) else {
            return Ok(());
        };
        let sighting = |id: i64| (id, ts, source.to_string(), channel.to_string());
        if ts > c.last_seen + SEEN_RESOLUTION_MS {
            c.last_seen = ts;
            let (id, ts, source, channel) = sighting(c.id);
            self.deferred.push(
                Op::Last {
                    id,
                    ts,
                    source,
                    channel,
                },
                true,
            );
        }
        if ts < c.first_seen {
            c.first_seen = ts;
            let (id, ts, source, channel) = sighting(c.id);
            self.deferred.push(
                Op::First {
                    id,
                    ts,
                    source,
                    channel,
                },
                true,
            );
        }
        Ok(())
    }

    fn merge(
        &mut self,
        survivor: i64,
        absorbed: i64,
        reason: &str,
        event_id: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let members: Vec<i64> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT id FROM profiles WHERE canonical_id = ?1 ORDER BY id")?;
            let rows = stmt.query_map([absorbed], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        self.conn
            .prepare_cached("UPDATE profiles SET canonical_id = ?1 WHERE canonical_id = ?2")?
            .execute([survivor, absorbed])?;
        for m in &members {
            self.cache.canon.insert(*m, survivor);
        }
        match (
            self.cache.clusters.remove(&absorbed),
            self.cache.clusters.get_mut(&survivor),
        ) {
            (Some(theirs), Some(ours)) => ours.extend(theirs),
            _ => {
                self.cache.clusters.remove(&survivor);
            }
        }
        let members_json = serde_json::to_string(&members).unwrap_or_else(|_| "[]".into());
        self.conn
            .prepare_cached(
                "INSERT INTO merges (action, survivor_id, absorbed_id, members, reason, event_id, created_at)
                 VALUES ('merge', ?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![survivor, absorbed, members_json, reason, event_id, now])?;
        let merge_id = self.conn.last_insert_rowid();
        self.emit(
            "customer.merged",
            Some(survivor),
            serde_json::json!({
                "customer_id": survivor,
                "merged_customer_id": absorbed,
                "profiles": members,
                "merge_id": merge_id,
                "reason": reason,
            }),
        )
    }

    // ---- consent ----

    fn current_consent(
        &mut self,
        profile: i64,
        purpose: &str,
        channel: &str,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let key = (profile, purpose.to_string(), channel.to_string());
        if let Some(c) = self.cache.consent.get(&key) {
            return Ok(Some(c.clone()));
        }
        let row: Option<(i64, String)> = self
            .conn
            .prepare_cached(
                "SELECT id, status FROM consents WHERE profile_id = ?1 AND purpose = ?2 AND channel = ?3 ORDER BY id DESC LIMIT 1",
            )?
            .query_row(params![profile, purpose, channel], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some(r) = &row {
            self.cache.consent.insert(key, r.clone());
        }
        Ok(row)
    }

    fn insert_consent(
        &mut self,
        profile: i64,
        c: &NewConsent,
        event_id: Option<i64>,
        now: i64,
    ) -> Result<ConsentRecord, StoreError> {
        let previous = self.current_consent(profile, c.purpose.as_str(), c.channel.as_str())?;
        let evidence = serde_json::to_string(&c.evidence).unwrap_or_else(|_| "{}".into());
        let effective = c.effective_at.unwrap_or(now);
        self.conn
            .prepare_cached(
                "INSERT INTO consents (profile_id, purpose, channel, status, legal_basis, notice_version, evidence,
                   effective_at, expires_at, recorded_at, source, event_id, supersedes_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                profile,
                c.purpose.as_str(),
                c.channel.as_str(),
                c.status.as_str(),
                c.legal_basis.as_str(),
                c.notice_version,
                evidence,
                effective,
                c.expires_at,
                now,
                c.source,
                event_id,
                previous.as_ref().map(|p| p.0)
            ])?;
        let id = self.conn.last_insert_rowid();
        self.cache.consent.insert(
            (
                profile,
                c.purpose.as_str().to_string(),
                c.channel.as_str().to_string(),
            ),
            (id, c.status.as_str().to_string()),
        );
        Ok(ConsentRecord {
            id: concierge_types::ConsentId(id),
            profile_id: ProfileId(profile),
            purpose: c.purpose.clone(),
            channel: c.channel.clone(),
            status: c.status,
            legal_basis: c.legal_basis,
            legal_basis_articles: c.legal_basis.articles().to_string(),
            notice_version: c.notice_version.clone(),
            evidence: c.evidence.clone(),
            effective_at: Timestamp(effective),
            expires_at: c.expires_at.map(Timestamp),
            recorded_at: Timestamp(now),
            source: c.source.clone(),
            event_id: event_id.map(concierge_types::EventId),
            supersedes: previous.map(|p| concierge_types::ConsentId(p.0)),
        })
    }

    fn record_consent(
        &mut self,
        id: ProfileId,
        c: NewConsent,
    ) -> Result<ConsentRecord, StoreError> {
        let root = canon(&self.conn, &mut self.cache, id.0)?.ok_or(StoreError::CustomerNotFound)?;
        self.insert_consent(root, &c, None, now_ms())
    }

    // ---- merges ----

    fn undo(&mut self, id: MergeId) -> Result<MergeView, StoreError> {
        let row: Option<(String, i64, i64, String)> = self
            .conn
            .query_row(
                "SELECT action, survivor_id, absorbed_id, members FROM merges WHERE id = ?1",
                [id.0],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (action, survivor, absorbed, members) = row.ok_or(StoreError::MergeNotFound)?;
        if action != "merge" {
            return Err(StoreError::MergeNotUndoable(format!(
                "entry {id} is a {action} entry, not a merge"
            )));
        }
        let undone: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM merges WHERE action = 'undo' AND related_id = ?1",
                [id.0],
                |r| r.get(0),
            )
            .optional()?;
        if undone.is_some() {
            return Err(StoreError::MergeAlreadyUndone);
        }
        let members: Vec<i64> = serde_json::from_str(&members)
            .map_err(|e| StoreError::Backend(format!("merge {id} members: {e}")))?;
        let root = canon(&self.conn, &mut self.cache, survivor)?.ok_or_else(|| {
            StoreError::MergeNotUndoable("the surviving profile no longer exists".into())
        })?;
        // Members that have since left (an earlier undo, an erasure) stay where they are.
        let mut still_here = Vec::with_capacity(members.len());
        for m in &members {
            if canon(&self.conn, &mut self.cache, *m)? == Some(root) {
                still_here.push(*m);
            }
        }
        if still_here.is_empty() {
            return Err(StoreError::MergeNotUndoable(
                "none of its profiles is part of this customer any more".into(),
            ));
        }
        let members = still_here;
        // If the absorbed root itself has left, the first remaining member leads the split-off cluster.
        let absorbed = if members.contains(&absorbed) {
            absorbed
        } else {
            members[0]
        };
        for m in &members {
            self.conn
                .prepare_cached("UPDATE profiles SET canonical_id = ?1 WHERE id = ?2")?
                .execute([absorbed, *m])?;
            self.cache.canon.insert(*m, absorbed);
        }
        self.cache.clusters.remove(&root);
        self.cache.clusters.remove(&absorbed);
        let now = now_ms();
        let members_json = serde_json::to_string(&members).unwrap_or_else(|_| "[]".into());
        self.conn.execute(
            "INSERT INTO merges (action, survivor_id, absorbed_id, members, reason, event_id, created_at, related_id)
             VALUES ('undo', ?1, ?2, ?3, 'undone by an admin', NULL, ?4, ?5)",
            params![survivor, absorbed, members_json, now, id.0],
        )?;
        let undo_id = self.conn.last_insert_rowid();
        // An undone merge must not silently happen again on the next event linking the two.
        self.conn.execute(
            "INSERT INTO merge_blocks (a_id, b_id, merge_id) VALUES (?1, ?2, ?3)",
            params![survivor, absorbed, id.0],
        )?;
        self.blocks.push((survivor, absorbed));
        self.cache.refused.clear();
        read::merge(&self.conn, MergeId(undo_id))?
            .ok_or_else(|| StoreError::Backend("undo entry vanished".into()))
    }

    // ---- erasure ----

    fn erase(&mut self, id: ProfileId) -> Result<Option<ErasureReceipt>, StoreError> {
        let Some(root) = canon(&self.conn, &mut self.cache, id.0)? else {
            return Ok(None);
        };
        let members: Vec<i64> = {
            let mut stmt = self
                .conn
                .prepare("SELECT id FROM profiles WHERE canonical_id = ?1")?;
            let rows = stmt.query_map([root], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let now = now_ms();
        let mut receipt = ErasureRecord {
            erasure_id: 0,
            customer_id: ProfileId(root),
            erased_at: Timestamp(now),
            profiles: members.len() as u64,
            events: 0,
            identifiers: 0,
            consents: 0,
            suppressed_identifiers: 0,
        };
        for chunk in members.chunks(400) {
            let list = placeholders(chunk.len());
            let idents: Vec<Identifier> = {
                let mut stmt = self.conn.prepare(&format!(
                    "SELECT kind, value FROM identifiers WHERE profile_id IN ({list})"
                ))?;
                let rows = stmt.query_map(params_from_iter(chunk), |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?;
                let mut out = Vec::new();
                for row in rows {
                    let (k, v) = row?;
                    // An identifier of a kind this version does not know is still suppressed under its name.
                    match IdentifierKind::parse(&k) {
                        Some(kind) => out.push(Identifier::from_stored(kind, v)),
                        None => out.push(Identifier::from_stored(
                            IdentifierKind::UserId,
                            format!("{k}:{v}"),
                        )),
                    }
                }
                out
            };
            for ident in &idents {
                // Webhook bodies tied to nobody (rejected, unparsable, receipts of unknown
                // messages): find the person's by their identifiers. Deliveries still waiting to
                // be processed are left alone; they are someone's, and will be linked.
                let needle = ident.value.trim_start_matches('+');
                if needle.len() >= 5 {
                    self.conn.execute(
                        "DELETE FROM inbound WHERE profile_id IS NULL AND state <> 'verified'
                           AND id NOT IN (SELECT inbound_id FROM inbound_profiles) AND instr(body, ?1) > 0",
                        [needle.as_bytes()],
                    )?;
                }
                let h = self.suppression_hash(ident);
                let n = self.conn.execute(
                    "INSERT INTO suppressions (hash, kind, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (hash) DO NOTHING",
                    params![h, ident.kind.as_str(), now],
                )?;
                receipt.suppressed_identifiers += n as u64;
                self.suppressed.insert(h);
                self.cache.idents.remove(ident);
            }
            let del = |sql: &str| {
                self.conn
                    .execute(&sql.replace("LIST", &list), params_from_iter(chunk))
            };
            receipt.events += del("DELETE FROM events WHERE profile_id IN (LIST)")? as u64;
            receipt.identifiers +=
                del("DELETE FROM identifiers WHERE profile_id IN (LIST)")? as u64;
            receipt.consents += del("DELETE FROM consents WHERE profile_id IN (LIST)")? as u64;
            del("DELETE FROM traits WHERE profile_id IN (LIST)")?;
            // Conversations: messages, their outbox entries, and the raw webhook bodies that
            // carried them (which hold the person's phone, name and words).
            del("DELETE FROM outbox WHERE message_id IN (SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.profile_id IN (LIST))")?;
            del("DELETE FROM inbound WHERE id IN (SELECT m.inbound_id FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.profile_id IN (LIST))")?;
            del("DELETE FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE profile_id IN (LIST))")?;
            del("DELETE FROM bot_turns WHERE conversation_id IN (SELECT id FROM conversations WHERE profile_id IN (LIST))")?;
            del("DELETE FROM conversation_labels WHERE conversation_id IN (SELECT id FROM conversations WHERE profile_id IN (LIST))")?;
            del("DELETE FROM attachments WHERE conversation_id IN (SELECT id FROM conversations WHERE profile_id IN (LIST))")?;
            del("DELETE FROM conversation_reads WHERE conversation_id IN (SELECT id FROM conversations WHERE profile_id IN (LIST))")?;
            del("DELETE FROM rule_firings WHERE conversation_id IN (SELECT id FROM conversations WHERE profile_id IN (LIST))")?;
            del("DELETE FROM conversations WHERE profile_id IN (LIST)")?;
            del("DELETE FROM inbound WHERE profile_id IN (LIST)")?;
            del("DELETE FROM inbound WHERE id IN (SELECT inbound_id FROM inbound_profiles WHERE profile_id IN (LIST))")?;
            del("DELETE FROM inbound_profiles WHERE profile_id IN (LIST)")?;
            del("DELETE FROM integration_events WHERE profile_id IN (LIST)")?;
            let both: Vec<i64> = chunk.iter().chain(chunk.iter()).copied().collect();
            let list2 = format!(
                "{list}) OR absorbed_id IN ({})",
                placeholders_from(chunk.len() + 1, chunk.len())
            );
            self.conn.execute(
                &format!("DELETE FROM merges WHERE survivor_id IN ({list2}"),
                params_from_iter(&both),
            )?;
            let list3 = format!(
                "{list}) OR b_id IN ({})",
                placeholders_from(chunk.len() + 1, chunk.len())
            );
            self.conn.execute(
                &format!("DELETE FROM merge_blocks WHERE a_id IN ({list3}"),
                params_from_iter(&both),
            )?;
            del("DELETE FROM profiles WHERE id IN (LIST)")?;
        }
        for m in &members {
            self.cache.canon.remove(m);
        }
        self.cache.clusters.remove(&root);
        self.cache.consent.retain(|k, _| !members.contains(&k.0));
        self.blocks
            .retain(|(a, b)| !members.contains(a) && !members.contains(b));
        self.conn.execute(
            "INSERT INTO erasures (customer_id, erased_at, profiles, events, identifiers, consents, suppressed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                root,
                now,
                receipt.profiles as i64,
                receipt.events as i64,
                receipt.identifiers as i64,
                receipt.consents as i64,
                receipt.suppressed_identifiers as i64
            ],
        )?;
        receipt.erasure_id = self.conn.last_insert_rowid();
        Ok(Some(ErasureReceipt {
            record: receipt,
            wal_scrubbed: false,
        }))
    }

    // ---- keys ----

    fn create_key(&mut self, name: &str, scope: KeyScope) -> Result<(ApiKey, String), StoreError> {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).map_err(|e| StoreError::Backend(format!("random: {e}")))?;
        let secret = format!("cx_{}_{}", scope.as_str(), hex(&bytes));
        let prefix: String = secret.chars().take(14).collect();
        self.conn.execute(
            "INSERT INTO api_keys (name, scope, secret_hash, prefix, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, scope.as_str(), hash_secret(&secret), prefix, now_ms()],
        )?;
        let key = ApiKey {
            id: KeyId(self.conn.last_insert_rowid()),
            name: name.to_string(),
            scope,
        };
        Ok((key, secret))
    }
}

/// The suppression HMAC key: read from `key_file`, or created there (mode 0600) on first use.
fn suppression_key(conn: &Connection, key_file: &Path) -> Result<Vec<u8>, StoreError> {
    let err = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Backend(format!("{what} {}: {e}", key_file.display()))
    };
    let key = match std::fs::read(key_file) {
        Ok(k) if k.len() >= 32 => k,
        Ok(_) => {
            return Err(StoreError::Backend(format!(
                "{} is too short to be a key",
                key_file.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let suppressed: i64 =
                conn.query_row("SELECT COUNT(*) FROM suppressions", [], |r| r.get(0))?;
            if suppressed > 0 {
                // A new key would make every erased person's identifiers look new again.
                return Err(StoreError::Backend(format!(
                    "{} is missing but {suppressed} identifiers of erased people are suppressed with it; \
                     restore the key file beside the database (it is part of every backup)",
                    key_file.display()
                )));
            }
            create_key_file(key_file)?
        }
        Err(e) => return Err(err("reading", &e)),
    };
    // A fingerprint in the database catches a key file from another installation.
    let check = {
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| err("using", &e))?;
        mac.update(b"concierge suppression key check");
        hex(&mac.finalize().into_bytes())
    };
    let stored: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'suppression_key_check'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    match stored {
        Some(s) if s != check => Err(StoreError::Backend(format!(
            "{} is not the key this database was written with; restore the right key file",
            key_file.display()
        ))),
        Some(_) => Ok(key),
        None => {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('suppression_key_check', ?1)",
                [&check],
            )?;
            Ok(key)
        }
    }
}

/// Writes a new key to a temporary file and links it into place, so two processes starting on
/// a fresh folder agree on one key (the loser reads the winner's).
fn create_key_file(key_file: &Path) -> Result<Vec<u8>, StoreError> {
    let key = random_hex(32)?.into_bytes();
    let tmp = key_file.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut f| {
        std::io::Write::write_all(&mut f, &key)?;
        f.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, key_file));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(key_file)
            .map_err(|e| StoreError::Backend(format!("reading {}: {e}", key_file.display()))),
        Err(e) => Err(StoreError::Backend(format!(
            "creating {}: {e}",
            key_file.display()
        ))),
    }
}

pub(super) fn random_hex(n: usize) -> Result<String, StoreError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Backend(format!("random: {e}")))?;
    Ok(hex(&bytes))
}

fn placeholders(n: usize) -> String {
    placeholders_from(1, n)
}

pub(super) fn placeholders_from(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The cluster root of `profile`, or `None` if no such profile exists.
/// The root of `profile`'s cluster, through the writer's cache.
pub(super) fn canon_of(w: &mut Writer, profile: i64) -> rusqlite::Result<Option<i64>> {
    canon(&w.conn, &mut w.cache, profile)
}

fn canon(conn: &Connection, cache: &mut Cache, profile: i64) -> rusqlite::Result<Option<i64>> {
    if let Some(r) = cache.canon.get(&profile) {
        return Ok(Some(*r));
    }
    let root: Option<i64> = conn
        .prepare_cached("SELECT canonical_id FROM profiles WHERE id = ?1")?
        .query_row([profile], |r| r.get(0))
        .optional()?;
    if let Some(r) = root {
        cache.canon.insert(profile, r);
    }
    Ok(root)
}

/// The identity graph as the planner sees it, inside the writer's transaction.
struct TxGraph<'a> {
    conn: &'a Connection,
    cache: &'a mut Cache,
    blocks: &'a [(i64, i64)],
    known: &'a Bloom,
    deferred: &'a Deferred,
}

impl Graph for TxGraph<'_> {
    type Error = rusqlite::Error;

    fn owner(&mut self, id: &Identifier) -> rusqlite::Result<Option<Owner>> {
        let profile = match self.cache.idents.get(id) {
            Some(c) => c.profile,
            None if !self.known.may_contain(id) => return Ok(None),
            None => {
                let row: Option<CachedIdent> = self
                    .conn
                    .prepare_cached("SELECT id, profile_id, first_seen, last_seen FROM identifiers WHERE kind = ?1 AND value = ?2")?
                    .query_row(params![id.kind.as_str(), id.value], |r| {
                        Ok(CachedIdent { id: r.get(0)?, profile: r.get(1)?, first_seen: r.get(2)?, last_seen: r.get(3)? })
                    })
                    .optional()?;
                match row {
                    Some(c) => {
                        self.cache.idents.insert(id.clone(), c);
                        c.profile
                    }
                    None => return Ok(None),
                }
            }
        };
        Ok(canon(self.conn, self.cache, profile)?.map(|root| Owner {
            profile: ProfileId(profile),
            root: ProfileId(root),
        }))
    }

    fn cluster_identifiers(&mut self, root: ProfileId) -> rusqlite::Result<Vec<Identifier>> {
        if let Some(list) = self.cache.clusters.get(&root.0) {
            return Ok(list.clone());
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT i.kind, i.value FROM identifiers i JOIN profiles p ON p.id = i.profile_id WHERE p.canonical_id = ?1",
        )?;
        let rows = stmt.query_map([root.0], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (k, v) = row?;
            if let Some(k) = IdentifierKind::parse(&k) {
                out.push(Identifier::from_stored(k, v));
            }
        }
        // And those not yet written, of every profile in the cluster.
        let members: Vec<i64> = self
            .conn
            .prepare_cached("SELECT id FROM profiles WHERE canonical_id = ?1")?
            .query_map([root.0], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for m in members {
            for (k, v) in self.deferred.identifiers_of(m) {
                if let Some(k) = IdentifierKind::parse(k) {
                    out.push(Identifier::from_stored(k, v.to_string()));
                }
            }
        }
        self.cache.clusters.insert(root.0, out.clone());
        Ok(out)
    }

    fn merge_blocked(&mut self, a: ProfileId, b: ProfileId) -> rusqlite::Result<bool> {
        for (x, y) in self.blocks {
            let (rx, ry) = (
                canon(self.conn, self.cache, *x)?,
                canon(self.conn, self.cache, *y)?,
            );
            if (rx == Some(a.0) && ry == Some(b.0)) || (rx == Some(b.0) && ry == Some(a.0)) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
