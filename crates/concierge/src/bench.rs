//! `concierge bench ingest`: ingestion throughput and 360° view latency, each next to a baseline
//! measured in the same run.
//!
//! (a) raw SQLite: the same rows the store would write, inserted into the same `events` table (same
//!     indexes, same pragmas and page cache) with one prepared statement in transactions of 10,000
//!     rows — the fastest plain loop, with no HTTP, parsing or identity resolution.
//! (b) Concierge through its real HTTP path: `/v1/batch` of 100 events over keep-alive connections.
//! (b0) the same HTTP path and parsing over plain group-committed inserts, no identity work
//!     (`bench/ceiling.rs`): how far HTTP and commit sizes alone keep (b) from (a).
//! (c) single-event `/v1/track` requests on 64 concurrent connections.
//! (d) the 360° view (`GET /api/v1/customers/{id}`) after all of the above, p50 and p99.
//!
//! The events are realistic (≈300 bytes, ~100k customers, anonymous browsing, logins that attach
//! identifiers, second devices whose identify call merges two profiles).

mod ceiling;
mod desk;
pub use desk::{desk, DeskArgs};

use anyhow::{Context, Result};
use concierge_segment::{to_event, IngestContext, Limits};
use concierge_store::sqlite::{schema, SqliteOptions, SqliteStore};
use concierge_store::Store;
use concierge_types::{KeyScope, NewEvent};
use rusqlite::params;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(clap::Args)]
pub struct IngestArgs {
    /// Events for (a) and (b).
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Distinct customers the events belong to [default: events / 10].
    #[arg(long)]
    customers: Option<usize>,
    /// Single /v1/track requests for (c) [default: events / 10].
    #[arg(long)]
    track_requests: Option<usize>,
    /// Concurrent connections for (c).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Concurrent connections sending batches for (b).
    #[arg(long, default_value_t = 32)]
    batch_connections: usize,
    /// 360° views to time for (d).
    #[arg(long, default_value_t = 2_000)]
    views: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Also time `Store::ingest` directly (no HTTP), to tell store cost from HTTP cost.
    #[arg(long)]
    direct: bool,
}

/// A small deterministic generator, so every run sends the same events.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PRODUCTS: &[(&str, &str, f64)] = &[
    ("Tênis Corrida Leve", "calcados", 349.90),
    ("Camiseta Algodão", "vestuario", 59.90),
    ("Mochila Urbana 20L", "acessorios", 189.00),
    ("Garrafa Térmica", "casa", 79.50),
    ("Fone Bluetooth", "eletronicos", 229.00),
    ("Jaqueta Corta-Vento", "vestuario", 279.90),
];
const EVENTS: &[&str] = &[
    "Product Viewed",
    "Product Viewed",
    "Product Added",
    "Checkout Started",
    "Order Completed",
];

/// Generates `n` Segment messages (JSON text) for `customers` people, as visits: each visit is one
/// person's run of 1–6 consecutive events seconds apart; a person's first visits are anonymous, then
/// they sign up (identifiers attach), and later a second device appears and is merged on login.
fn generate(n: usize, customers: usize, seed: u64, id_prefix: &str) -> Vec<String> {
    let mut rng = Rng(seed | 1);
    let mut seen = vec![0u8; customers];
    let start = chrono::Utc::now() - chrono::Duration::days(30);
    let step_ms = (30 * 86_400_000 / n.max(1)) as i64;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let c = rng.below(customers);
        let visit = 1 + rng.below(6);
        let visit_start = start + chrono::Duration::milliseconds(out.len() as i64 * step_ms);
        for j in 0..visit {
            if out.len() == n {
                break;
            }
            let k = seen[c];
            seen[c] = seen[c].saturating_add(1);
            let ts = (visit_start + chrono::Duration::seconds(j as i64 * 20))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let mid = format!(
                "{id_prefix}{:08x}-{:012x}",
                out.len(),
                rng.next() & 0xffff_ffff_ffff
            );
            out.push(message(&mut rng, c, k, &ts, &mid));
        }
    }
    out
}

fn message(rng: &mut Rng, c: usize, k: u8, ts: &str, mid: &str) -> String {
    let ctx = r#""context":{"library":{"name":"analytics-python","version":"2.4.0"},"ip":"189.40.12.7","locale":"pt-BR"}"#;
    let user = format!("user-{c}");
    match k {
        // First visit, anonymous on device 1.
        0 => format!(
            r#"{{"type":"page","anonymousId":"anon-{c}-1","name":"Home","properties":{{"url":"https://loja.example/","path":"/","title":"Loja"}},"messageId":"{mid}","timestamp":"{ts}",{ctx}}}"#
        ),
        // Sign-up: user id, email and phone attach to the anonymous profile.
        1 => format!(
            r#"{{"type":"identify","userId":"{user}","anonymousId":"anon-{c}-1","traits":{{"email":"cliente{c}@example.com","phone":"+55 11 9{:04}-{:04}","name":"Cliente {c}","plan":"basic"}},"messageId":"{mid}","timestamp":"{ts}",{ctx}}}"#,
            c % 10_000,
            (c / 10_000) % 10_000
        ),
        // Device 2, anonymous: a second profile…
        5 => format!(
            r#"{{"type":"page","anonymousId":"anon-{c}-2","name":"Ofertas","properties":{{"url":"https://loja.example/ofertas","path":"/ofertas"}},"messageId":"{mid}","timestamp":"{ts}",{ctx}}}"#
        ),
        // …merged into the customer when they log in there.
        7 => format!(
            r#"{{"type":"identify","userId":"{user}","anonymousId":"anon-{c}-2","traits":{{"plan":"gold"}},"messageId":"{mid}","timestamp":"{ts}",{ctx}}}"#
        ),
        _ if rng.below(4) == 0 => format!(
            r#"{{"type":"page","userId":"{user}","name":"Categoria","properties":{{"url":"https://loja.example/c/{0}","path":"/c/{0}"}},"messageId":"{mid}","timestamp":"{ts}",{ctx}}}"#,
            PRODUCTS[rng.below(PRODUCTS.len())].1
        ),
        _ => {
            let (name, cat, price) = PRODUCTS[rng.below(PRODUCTS.len())];
            let event = EVENTS[rng.below(EVENTS.len())];
            format!(
                r#"{{"type":"track","userId":"{user}","event":"{event}","properties":{{"sku":"SKU-{:05}","name":"{name}","category":"{cat}","price":{price},"currency":"BRL"}},"messageId":"{mid}","timestamp":"{ts}",{ctx}}}"#,
                rng.below(50_000)
            )
        }
    }
}

/// What the store would write for these messages (parsed and validated outside the timer).
fn prepared(messages: &[String]) -> Vec<NewEvent> {
    let ctx = IngestContext {
        source: "bench",
        received_at: chrono::Utc::now().timestamp_millis(),
        default_region: "BR",
        limits: Limits::default(),
    };
    messages
        .iter()
        .filter_map(|m| {
            serde_json::from_str(m)
                .ok()
                .and_then(|v| to_event(v, &ctx).ok())
        })
        .collect()
}

/// (a) The baseline: plain batched inserts into the same table.
fn raw_sqlite(dir: &std::path::Path, messages: &[String]) -> Result<(f64, usize)> {
    let path = dir.join("baseline.db");
    let mut conn = rusqlite::Connection::open(&path)?;
    schema::configure(&conn)?;
    conn.execute_batch(schema::EVENTS_TABLE)?;
    let mut elapsed = Duration::ZERO;
    let mut rows = 0;
    for chunk in messages.chunks(10_000) {
        let events = prepared(chunk);
        let t = Instant::now();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO events (profile_id, dedup_key, kind, name, channel, source, ts, received_at, consent, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for e in &events {
                insert_row(&mut stmt, e)?;
            }
        }
        tx.commit()?;
        elapsed += t.elapsed();
        rows += events.len();
    }
    Ok((rows as f64 / elapsed.as_secs_f64(), rows))
}

/// Inserts `e` with a statement taking the events table's ten columns in order, filed under its
/// customer number.
fn insert_row(stmt: &mut rusqlite::Statement, e: &NewEvent) -> rusqlite::Result<usize> {
    stmt.execute(params![
        customer_of(e),
        e.dedup_key,
        e.kind.as_str(),
        e.name,
        e.channel,
        e.source,
        e.ts,
        e.received_at,
        e.consent_snapshot,
        e.body
    ])
}

/// The customer number the generator gave an event (`user-12`, `anon-12-1` → 12): the baseline
/// files each event under its person as the store does, so its index sees the same key spread.
fn customer_of(e: &NewEvent) -> i64 {
    e.identifiers
        .first()
        .and_then(|i| i.value.split('-').nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The real server on a free local port, over `store`, for the benchmarks to call.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Starts it; returns its address (`127.0.0.1:port`) and the handle that stops it.
    async fn start(store: Arc<SqliteStore>) -> Result<(String, Running)> {
        Running::serve(concierge_server::app(
            store,
            concierge_server::ServerConfig::default(),
        ))
        .await
    }

    /// Serves `app` the same way.
    async fn serve(app: axum::Router) -> Result<(String, Running)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(concierge_server::serve(listener, app, async {
            let _ = stopped.await;
        }));
        Ok((addr, Running { stop, task }))
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// A keep-alive HTTP/1.1 connection that sends one request at a time.
struct Conn {
    reader: BufReader<TcpStream>,
    host: String,
}

impl Conn {
    async fn open(addr: &str) -> Result<Conn> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Conn {
            reader: BufReader::new(s),
            host: addr.to_string(),
        })
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        auth: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>)> {
        self.send_with(method, path, &[("Authorization", auth)], body)
            .await
    }

    async fn send_with(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>)> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        ));
        let s = self.reader.get_mut();
        s.write_all(head.as_bytes()).await?;
        s.write_all(body).await?;
        let mut line = String::new();
        self.reader.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("bad status line")?;
        let mut length = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line).await?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).await?;
        Ok((status, body))
    }
}

/// The load generator of (b): `/v1/batch` of 100 of `messages` over `connections` keep-alive
/// connections, retrying on 429; returns how many events were accepted.
async fn send_batches(
    addr: &str,
    basic: &str,
    messages: &Arc<Vec<String>>,
    connections: usize,
) -> Result<usize> {
    let batches = messages.len().div_ceil(100);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let (messages, next, addr, basic) = (
            messages.clone(),
            next.clone(),
            addr.to_string(),
            basic.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr).await?;
            let mut accepted = 0usize;
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches {
                    return Ok::<usize, anyhow::Error>(accepted);
                }
                let items = &messages[b * 100..((b + 1) * 100).min(messages.len())];
                let body = format!(r#"{{"batch":[{}]}}"#, items.join(","));
                loop {
                    let (status, resp) = conn
                        .send("POST", "/v1/batch", &basic, body.as_bytes())
                        .await?;
                    match status {
                        200 => {
                            let v: serde_json::Value = serde_json::from_slice(&resp)?;
                            accepted += v["accepted"].as_u64().unwrap_or(0) as usize;
                            break;
                        }
                        429 => tokio::time::sleep(Duration::from_millis(5)).await,
                        s => {
                            anyhow::bail!("batch answered {s}: {}", String::from_utf8_lossy(&resp))
                        }
                    }
                }
            }
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        accepted += task.await??;
    }
    Ok(accepted)
}

/// The value at fraction `p` (0–1) of sorted values, by nearest rank; 0 when there are none.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// What this process has used so far: CPU seconds (all threads) and bytes it sent to storage.
/// Both are read from `/proc/self` (Linux); elsewhere they are absent.
#[derive(Clone, Copy)]
struct Usage {
    cpu_s: f64,
    written: f64,
}

impl Usage {
    fn now() -> Option<Usage> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may hold spaces) start with the state, field 3.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        let io = std::fs::read_to_string("/proc/self/io").ok()?;
        let written = io
            .lines()
            .find_map(|l| l.strip_prefix("write_bytes:"))?
            .trim()
            .parse()
            .ok()?;
        // The kernel's USER_HZ is 100 on every Linux platform we run on.
        Some(Usage {
            cpu_s: ticks / 100.0,
            written,
        })
    }

    /// What was used between `self` and `later`.
    fn until(self, later: Option<Usage>) -> Option<Usage> {
        later.map(|l| Usage {
            cpu_s: l.cpu_s - self.cpu_s,
            written: l.written - self.written,
        })
    }
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace()
        .nth(1)?
        .parse::<f64>()
        .ok()
        .map(|kb| kb / 1024.0)
}

pub async fn ingest(args: IngestArgs) -> Result<()> {
    let customers = args.customers.unwrap_or((args.events / 10).max(1));
    let track_n = args.track_requests.unwrap_or((args.events / 10).max(1));
    let tmp = std::env::temp_dir().join(format!("concierge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let log = |s: &str| {
        if !args.json {
            eprintln!("{s}");
        }
    };

    log(&format!(
        "generating {} events for {customers} customers…",
        args.events
    ));
    let messages = Arc::new(generate(args.events, customers, 0x5eed, "b"));
    let avg_bytes =
        messages.iter().map(|m| m.len()).sum::<usize>() as f64 / messages.len().max(1) as f64;

    log("(a) raw SQLite batched inserts…");
    let before = Usage::now();
    let (raw_rate, raw_rows) = raw_sqlite(&tmp, &messages)?;
    // Only the bytes: the CPU of (a) includes parsing the events, which its timer leaves out.
    let raw_written = before
        .and_then(|b| b.until(Usage::now()))
        .map(|u| u.written / raw_rows.max(1) as f64);

    log("(b0) ceiling: the HTTP path and parsing, group-committed plain inserts…");
    let ceiling = ceiling::start(&tmp.join("ceiling.db")).await?;
    let before = Usage::now();
    let t = Instant::now();
    let ceiling_rows = send_batches(&ceiling.addr, "", &messages, args.batch_connections).await?;
    let ceiling_secs = t.elapsed().as_secs_f64();
    let ceiling_rate = ceiling_rows as f64 / ceiling_secs;
    let ceiling_usage = before.and_then(|b| b.until(Usage::now()));
    let ceiling_cpu_us = ceiling_usage.map(|u| u.cpu_s * 1e6 / ceiling_rows.max(1) as f64);
    ceiling.stop().await?;
    for file in ["ceiling.db", "ceiling.db-wal", "ceiling.db-shm"] {
        let _ = std::fs::remove_file(tmp.join(file));
    }

    let mut direct_rate = None;
    if args.direct {
        log("(b') Store::ingest directly, 10,000 events a call…");
        let store = SqliteStore::open(SqliteOptions::new(tmp.join("direct.db")))?;
        let mut n = 0;
        let mut spent = Duration::ZERO;
        for chunk in messages.chunks(10_000) {
            let evs = prepared(chunk);
            let t = Instant::now();
            n += store.ingest(evs).await?.accepted;
            spent += t.elapsed();
        }
        let t = Instant::now();
        store.settle().await?;
        spent += t.elapsed();
        direct_rate = Some(n as f64 / spent.as_secs_f64());
        store.shutdown();
    }
    log("(b) HTTP /v1/batch…");
    let store = Arc::new(SqliteStore::open(SqliteOptions::new(
        tmp.join("concierge.db"),
    ))?);
    let (_, key) = store.create_key("bench", KeyScope::Ingest).await?;
    let (_, admin) = store.create_key("bench-admin", KeyScope::Admin).await?;
    let (addr, server) = Running::start(store.clone()).await?;
    let basic = {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
        )
    };

    let before = Usage::now();
    let t = Instant::now();
    let http_accepted = send_batches(&addr, &basic, &messages, args.batch_connections).await?;
    // Counted until the identity tables hold everything too, not only the events.
    store.settle().await?;
    let batch_secs = t.elapsed().as_secs_f64();
    // CPU of every thread (HTTP, writer, load generator) and bytes written, per accepted event.
    let batch_usage = before.and_then(|b| b.until(Usage::now()));
    let batch_cpu_us = batch_usage.map(|u| u.cpu_s * 1e6 / http_accepted.max(1) as f64);
    let batch_cores = batch_usage.map(|u| u.cpu_s / batch_secs);
    let batch_written = batch_usage.map(|u| u.written / http_accepted.max(1) as f64);
    let batch_rate = http_accepted as f64 / batch_secs;

    log("(c) HTTP /v1/track, single events…");
    let singles = Arc::new(generate(track_n, customers, 0xfeed, "t"));
    let next = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.connections.max(1) {
        let (singles, next, addr, basic) =
            (singles.clone(), next.clone(), addr.clone(), basic.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr).await?;
            let (mut ok, mut limited) = (0usize, 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= singles.len() {
                    return Ok::<(usize, usize), anyhow::Error>((ok, limited));
                }
                loop {
                    let (status, resp) = conn
                        .send("POST", "/v1/track", &basic, singles[i].as_bytes())
                        .await?;
                    match status {
                        200 => {
                            ok += 1;
                            break;
                        }
                        429 => {
                            limited += 1;
                            tokio::time::sleep(Duration::from_millis(5)).await
                        }
                        s => {
                            anyhow::bail!("track answered {s}: {}", String::from_utf8_lossy(&resp))
                        }
                    }
                }
            }
        }));
    }
    let (mut track_ok, mut track_429) = (0, 0);
    for task in tasks {
        let (ok, limited) = task.await??;
        track_ok += ok;
        track_429 += limited;
    }
    let track_rate = track_ok as f64 / t.elapsed().as_secs_f64();

    log("(d) 360° view latency…");
    let stats = store.stats().await?;
    let roots: Vec<i64> = {
        let conn = rusqlite::Connection::open(tmp.join("concierge.db"))?;
        let mut stmt = conn.prepare(
            "SELECT id FROM profiles WHERE canonical_id = id ORDER BY random() LIMIT ?1",
        )?;
        let rows = stmt.query_map([args.views as i64], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let merges: i64 = rusqlite::Connection::open(tmp.join("concierge.db"))?.query_row(
        "SELECT COUNT(*) FROM merges WHERE action = 'merge'",
        [],
        |r| r.get(0),
    )?;
    let mut conn = Conn::open(&addr).await?;
    let bearer = format!("Bearer {admin}");
    let mut lat = Vec::with_capacity(roots.len());
    for id in &roots {
        let t = Instant::now();
        let (status, _) = conn
            .send("GET", &format!("/api/v1/customers/{id}"), &bearer, b"")
            .await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(status == 200, "view of {id} answered {status}");
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let (p50, p99) = (percentile(&lat, 0.50), percentile(&lat, 0.99));

    server.stop().await;
    store.shutdown();
    let rss = peak_rss_mb();
    let _ = std::fs::remove_dir_all(&tmp);

    let ratio = batch_rate / raw_rate;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "events": args.events,
                "customers": customers,
                "avg_event_bytes": avg_bytes.round(),
                "raw_sqlite_events_per_s": raw_rate.round(),
                "raw_sqlite_rows": raw_rows,
                "http_batch_events_per_s": batch_rate.round(),
                "http_ceiling_events_per_s": ceiling_rate.round(),
                "http_ceiling_events": ceiling_rows,
                "ceiling_ratio": (ceiling_rate / raw_rate * 1000.0).round() / 1000.0,
                "http_ceiling_cpu_us_per_event": ceiling_cpu_us.map(|c| (c * 10.0).round() / 10.0),
                "store_direct_events_per_s": direct_rate.map(f64::round),
                "http_batch_seconds": batch_secs,
                "ratio": (ratio * 1000.0).round() / 1000.0,
                "single_track_requests_per_s": track_rate.round(),
                "single_track_requests": track_ok,
                "single_track_429_retries": track_429,
                "track_connections": args.connections,
                "view_p50_ms": (p50 * 1000.0).round() / 1000.0,
                "view_p99_ms": (p99 * 1000.0).round() / 1000.0,
                "views": lat.len(),
                "events_stored": stats.events,
                "profiles": stats.profiles,
                "customers_after_merges": stats.customers,
                "merges": merges,
                "peak_rss_mb": rss.map(|r| r.round()),
                "raw_sqlite_bytes_written_per_event": raw_written.map(f64::round),
                "http_batch_bytes_written_per_event": batch_written.map(f64::round),
                "http_batch_cpu_us_per_event": batch_cpu_us.map(|c| (c * 10.0).round() / 10.0),
                "http_batch_cores_busy": batch_cores.map(|c| (c * 100.0).round() / 100.0),
            })
        );
    } else {
        println!("Concierge ingest benchmark: {} events (avg {avg_bytes:.0} bytes), {customers} customers, {} cores", args.events, std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        println!();
        println!("  {:<58} {:>14}", "measurement", "result");
        println!(
            "  {:<58} {:>10.0} ev/s",
            "(a) raw SQLite batched inserts, same table+indexes (baseline)", raw_rate
        );
        println!(
            "  {:<58} {:>10.0} ev/s",
            format!(
                "(b) Concierge HTTP /v1/batch x100, {} connections",
                args.batch_connections
            ),
            batch_rate
        );
        println!(
            "  {:<58} {:>14.2}   goal >= 0.70",
            "    ratio (b)/(a)", ratio
        );
        println!(
            "  {:<58} {:>10.0} ev/s",
            "(b0) same HTTP and parsing, plain group commits, no identity", ceiling_rate
        );
        println!(
            "  {:<58} {:>14.2}",
            "    ratio (b0)/(a)",
            ceiling_rate / raw_rate
        );
        if let Some(cpu) = ceiling_cpu_us {
            println!(
                "  {:<58} {:>8.1} µs",
                "    (b0) CPU per event, all threads", cpu
            );
        }
        if let Some(d) = direct_rate {
            println!(
                "  {:<58} {:>10.0} ev/s",
                "(b') Store::ingest directly, 10,000-event calls, no HTTP", d
            );
        }
        if let (Some(raw), Some(batch)) = (raw_written, batch_written) {
            println!(
                "  {:<58} {:>8.0} / {:.0}",
                "    bytes written per event, (a) / (b)", raw, batch
            );
        }
        if let (Some(cpu), Some(cores)) = (batch_cpu_us, batch_cores) {
            println!(
                "  {:<58} {:>8.1} µs, {cores:.2} cores busy",
                "    (b) CPU per event, all threads", cpu
            );
        }
        println!(
            "  {:<58} {:>9.0} req/s   goal >= 10,000",
            format!(
                "(c) Concierge HTTP /v1/track, {} connections, durable",
                args.connections
            ),
            track_rate
        );
        println!(
            "  {:<58} {:>11.3} ms",
            format!(
                "(d) 360° view p50, {} customers, after {} events",
                lat.len(),
                stats.events
            ),
            p50
        );
        println!(
            "  {:<58} {:>11.3} ms   goal <= 2 ms",
            "    360° view p99", p99
        );
        println!();
        println!(
            "  store after the run: {} events, {} profiles in {} customers, {merges} merges; {track_429} 429 retries in (c); peak RSS {}",
            stats.events,
            stats.profiles,
            stats.customers,
            rss.map(|r| format!("{r:.0} MB (generator included)")).unwrap_or_else(|| "n/a".into())
        );
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct WebhookArgs {
    /// Webhooks per concurrency level.
    #[arg(long, default_value_t = 20_000)]
    per_level: usize,
    /// Concurrency levels (connections).
    #[arg(long, value_delimiter = ',', default_value = "1,8,32,128")]
    levels: Vec<usize>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// A WhatsApp Cloud API text-message delivery, as Meta sends it.
fn whatsapp_delivery(i: usize) -> String {
    let wa = format!("55119{:08}", i % 50_000);
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"5511999990000","phone_number_id":"106540352242922"}},"contacts":[{{"profile":{{"name":"Cliente {i}"}},"wa_id":"{wa}"}}],"messages":[{{"from":"{wa}","id":"wamid.bench{i:010}","timestamp":"{}","text":{{"body":"Oi, cadê meu pedido {i}?"}},"type":"text"}}]}},"field":"messages"}}]}}]}}"#,
        chrono::Utc::now().timestamp()
    )
}

fn sign(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        concierge_channels::verify::hmac_sha256_hex(secret, &[body])
    )
}

pub async fn webhooks(args: WebhookArgs) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("concierge-bench-wh-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let log = |s: &str| {
        if !args.json {
            eprintln!("{s}");
        }
    };
    log("(a) raw SQLite batched inserts of 200,000 events…");
    let messages = generate(200_000, 20_000, 0x5eed, "b");
    let (raw_rate, _) = raw_sqlite(&tmp, &messages)?;
    drop(messages);

    let store = Arc::new(SqliteStore::open(SqliteOptions::new(
        tmp.join("concierge.db"),
    ))?);
    let channel = store
        .create_channel(concierge_server::validate_channel(
            "whatsapp",
            "bench",
            serde_json::json!({"app_secret": "bench-secret", "verify_token": "v", "access_token": "a", "phone_number_id": "106540352242922", "api_base": "http://127.0.0.1:9"}),
        ).map_err(|e| anyhow::anyhow!(e))?)
        .await?;
    let (_, admin) = store.create_key("bench-admin", KeyScope::Admin).await?;
    let (addr, server) = Running::start(store.clone()).await?;
    let path = format!("/webhooks/{}", channel.id);

    let mut rows = Vec::new();
    let mut offset = 0;
    let started = Instant::now();
    for &conns in &args.levels {
        log(&format!("signed WhatsApp webhooks, {conns} connections…"));
        // Bodies and signatures are made before the clock starts, as a provider would have them.
        let bodies: Arc<Vec<(String, String)>> = Arc::new(
            (offset..offset + args.per_level)
                .map(|i| {
                    let b = whatsapp_delivery(i);
                    let s = sign("bench-secret", b.as_bytes());
                    (b, s)
                })
                .collect(),
        );
        offset += args.per_level;
        let next = Arc::new(AtomicUsize::new(0));
        let t = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..conns.max(1) {
            let (bodies, next, addr, path) =
                (bodies.clone(), next.clone(), addr.clone(), path.clone());
            tasks.push(tokio::spawn(async move {
                let mut conn = Conn::open(&addr).await?;
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= bodies.len() {
                        return Ok::<Vec<f64>, anyhow::Error>(lat);
                    }
                    let (body, sig) = &bodies[i];
                    let t = Instant::now();
                    let (status, resp) = conn
                        .send_with(
                            "POST",
                            &path,
                            &[("X-Hub-Signature-256", sig)],
                            body.as_bytes(),
                        )
                        .await?;
                    anyhow::ensure!(
                        status == 200,
                        "webhook answered {status}: {}",
                        String::from_utf8_lossy(&resp)
                    );
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }));
        }
        let mut lat = Vec::new();
        for task in tasks {
            lat.extend(task.await??);
        }
        let secs = t.elapsed().as_secs_f64();
        lat.sort_by(|a, b| a.total_cmp(b));
        rows.push((
            conns,
            lat.len() as f64 / secs,
            percentile(&lat, 0.50),
            percentile(&lat, 0.99),
        ));
    }
    // Acknowledged is not processed: wait until the processor has stored every delivery.
    let total = offset;
    let acked = Instant::now();
    let mut conn = Conn::open(&addr).await?;
    let bearer = format!("Bearer {admin}");
    loop {
        let (_, body) = conn
            .send(
                "GET",
                "/api/v1/inbound?state=verified&limit=1",
                &bearer,
                b"",
            )
            .await?;
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        if v["entries"].as_array().is_some_and(|e| e.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let processed_rate = total as f64 / started.elapsed().as_secs_f64();
    let lag = acked.elapsed().as_secs_f64();
    let conversations = rusqlite::Connection::open(tmp.join("concierge.db"))?.query_row(
        "SELECT COUNT(*), SUM(messages) FROM conversations",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<i64>>(1)?.unwrap_or(0),
            ))
        },
    )?;
    server.stop().await;
    store.shutdown();
    let _ = std::fs::remove_dir_all(&tmp);

    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "raw_sqlite_events_per_s": raw_rate.round(),
                "levels": rows.iter().map(|(c, r, p50, p99)| serde_json::json!({
                    "connections": c, "webhooks_per_s": r.round(),
                    "p50_ms": (p50 * 1000.0).round() / 1000.0, "p99_ms": (p99 * 1000.0).round() / 1000.0,
                })).collect::<Vec<_>>(),
                "webhooks": total,
                "processed_per_s_end_to_end": processed_rate.round(),
                "processing_lag_after_last_ack_s": (lag * 100.0).round() / 100.0,
                "conversations": conversations.0,
                "messages": conversations.1,
            })
        );
    } else {
        println!(
            "Concierge webhook benchmark: signed WhatsApp text deliveries, {} per level, {} cores",
            args.per_level,
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        );
        println!();
        println!("  (a) raw SQLite batched inserts (baseline)          {raw_rate:>10.0} rows/s");
        println!(
            "  connections   acknowledged/s   p50 ms   p99 ms   (goal: >= 5,000/s, p99 <= 50 ms)"
        );
        for (c, r, p50, p99) in &rows {
            println!("  {c:>11}   {r:>14.0}   {p50:>6.2}   {p99:>6.2}");
        }
        println!();
        println!(
            "  all {total} deliveries verified, logged, parsed and stored as messages ({} conversations, {} messages): {processed_rate:.0}/s over the whole run, the last stored {lag:.2} s after the last acknowledgement",
            conversations.0, conversations.1
        );
    }
    Ok(())
}
