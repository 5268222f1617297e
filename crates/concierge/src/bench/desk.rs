//! `concierge bench desk`: how long a supervisor waits for the indicators and an agent for the
//! inbox when a brand has many conversations, next to the fastest plain read of the same rows.
//!
//! (a) raw SQLite: one prepared statement reading every conversation of the period with its
//!     messages' times and authors (what the indicators need at least), into plain vectors.
//! (b) `GET /app/dashboard?days=N` through the real HTTP path, signed in as a supervisor: the
//!     rows loaded, SLA clocks in business hours per conversation, SVG drawn.
//! (c) `GET /app/dashboard.csv?days=N`: one row per conversation.
//! (d) `GET /app`: the inbox of the 200 newest conversations with unread counts and SLA badges.
//!
//! The conversations are spread over the period, on WhatsApp: two in five settled by the bot,
//! the rest queued or with one of ten agents in three teams, most resolved; 2 to 6 messages each.

use super::{percentile, Conn, Rng, Running};
use anyhow::{bail, Result};
use concierge_store::sqlite::{SqliteOptions, SqliteStore};
use concierge_store::{ImportedConversation, ImportedMessage, NewUser, Store};
use concierge_types::conversation::{Author, Content, ConversationStatus, DeliveryStatus, Owner};
use concierge_types::{Identifier, IdentifierKind, Role};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct DeskArgs {
    /// Conversations in the period.
    #[arg(long, default_value_t = 20_000)]
    conversations: usize,
    /// The period the indicators cover, in days.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Times each page is loaded.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

const MINUTE: i64 = 60_000;

/// A conversation as the plain read keeps it: id, created, status, owner kind, message times and
/// authors.
type RawRow = (i64, i64, String, String, Vec<(i64, String)>);

/// Adds a message `gap` ms after the previous one.
fn say(messages: &mut Vec<ImportedMessage>, at: &mut i64, author: Author, gap: i64, text: &str) {
    *at += gap;
    messages.push(ImportedMessage {
        author,
        author_name: (author == Author::Agent).then(|| "Agente".to_string()),
        private: false,
        content: Content::Text { text: text.into() },
        at: *at,
        status: (author != Author::Customer).then_some(DeliveryStatus::Read),
    });
}

/// `runs` GETs of `path` with the session cookie: their times (ms) and the last body's size.
async fn time(conn: &mut Conn, cookie: &str, path: &str, runs: usize) -> Result<(Vec<f64>, usize)> {
    let mut ms = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let (status, body) = conn
            .send_with("GET", path, &[("Cookie", cookie)], b"")
            .await?;
        if status != 200 {
            bail!("{path}: HTTP {status}: {}", String::from_utf8_lossy(&body));
        }
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        bytes = body.len();
    }
    Ok((ms, bytes))
}
const TEAMS: [&str; 3] = ["atendimento", "trocas", "financeiro"];

pub async fn desk(args: DeskArgs) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("concierge-bench-desk-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let log = |s: &str| {
        if !args.json {
            eprintln!("{s}");
        }
    };
    let store = Arc::new(SqliteStore::open(SqliteOptions::new(
        tmp.join("concierge.db"),
    ))?);
    let started = Instant::now();
    log(&format!(
        "seeding {} conversations over {} days…",
        args.conversations, args.days
    ));
    let channel = store
        .create_channel(
            concierge_server::validate_channel(
                "whatsapp",
                "bench",
                serde_json::json!({"app_secret": "s", "verify_token": "v", "access_token": "a", "phone_number_id": "1", "api_base": "http://127.0.0.1:9"}),
            )
            .map_err(|e| anyhow::anyhow!(e))?,
        )
        .await?;
    let customers = (args.conversations / 2).max(1);
    let now = chrono::Utc::now().timestamp_millis();
    let ts = chrono::Utc::now().to_rfc3339();
    let identify: Vec<String> = (0..customers)
        .map(|c| {
            format!(
                r#"{{"type":"identify","userId":"desk-{c}","traits":{{"name":"Cliente {c}"}},"messageId":"desk-{c}","timestamp":"{ts}"}}"#
            )
        })
        .collect();
    for chunk in identify.chunks(10_000) {
        store.ingest(super::prepared(chunk)).await?;
    }
    let mut ids = Vec::with_capacity(customers);
    for c in 0..customers {
        let ident = Identifier::parse(IdentifierKind::UserId, &format!("desk-{c}"), "BR")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        match store.find_customer(&ident).await? {
            Some(id) => ids.push(id),
            None => bail!("customer desk-{c} was not created"),
        }
    }
    let agents: Vec<String> = (0..10).map(|i| format!("agent{i}@loja.example")).collect();
    let mut rng = Rng(0xde5c | 1);
    let period = i64::from(args.days) * 86_400_000;
    for i in 0..args.conversations {
        let start = now - period + (i as i64 * period / args.conversations.max(1) as i64);
        let mut at = start;
        let mut messages = Vec::new();
        say(
            &mut messages,
            &mut at,
            Author::Customer,
            0,
            "Olá, onde está meu pedido?",
        );
        say(
            &mut messages,
            &mut at,
            Author::Bot,
            2_000,
            "Seu pedido saiu para entrega.",
        );
        let team = TEAMS[rng.below(TEAMS.len())];
        let agent = &agents[rng.below(agents.len())];
        let (status, owner, handed_at, resolved_at) = match rng.below(10) {
            // The bot settled it.
            0..=3 => (
                ConversationStatus::Resolved,
                Owner::Bot,
                None,
                Some(at + MINUTE),
            ),
            // Waiting in a queue.
            4 => {
                say(
                    &mut messages,
                    &mut at,
                    Author::Customer,
                    MINUTE,
                    "Quero falar com uma pessoa",
                );
                (
                    ConversationStatus::Open,
                    Owner::Queue(team.into()),
                    Some(at),
                    None,
                )
            }
            // A person answered; most are resolved.
            k => {
                say(
                    &mut messages,
                    &mut at,
                    Author::Customer,
                    MINUTE,
                    "Quero falar com uma pessoa",
                );
                let handed = at;
                say(
                    &mut messages,
                    &mut at,
                    Author::Agent,
                    (2 + rng.below(120) as i64) * MINUTE,
                    "Olá! Vou verificar.",
                );
                say(
                    &mut messages,
                    &mut at,
                    Author::Customer,
                    3 * MINUTE,
                    "Obrigado",
                );
                say(
                    &mut messages,
                    &mut at,
                    Author::Agent,
                    (1 + rng.below(30) as i64) * MINUTE,
                    "Resolvido!",
                );
                let resolved = k >= 6;
                (
                    if resolved {
                        ConversationStatus::Resolved
                    } else {
                        ConversationStatus::Open
                    },
                    Owner::Agent(agent.clone()),
                    Some(handed),
                    resolved.then_some(at + MINUTE),
                )
            }
        };
        store
            .import_conversation(ImportedConversation {
                channel_id: channel.id.clone(),
                thread: format!("55119{i:08}"),
                customer: ids[i % customers],
                contact_name: Some(format!("Cliente {}", i % customers)),
                status,
                owner,
                language: Some("pt-BR".into()),
                team: handed_at.map(|_| team.to_string()),
                handoff_reason: handed_at.map(|_| "asked for a person".to_string()),
                handed_at,
                resolved_at: resolved_at.map(|r| r.min(now - MINUTE)),
                messages,
            })
            .await?;
    }
    let seeded = started.elapsed();
    log(&format!("seeded in {:.1} s", seeded.as_secs_f64()));

    // (a) the plain read of the same rows, on its own connection to the same file.
    let since = now - period;
    let db = tmp.join("concierge.db");
    let mut raw = Vec::new();
    for _ in 0..args.runs {
        let t = Instant::now();
        let conn = rusqlite::Connection::open(&db)?;
        let mut stmt = conn.prepare(
            "SELECT c.id, c.created_at, c.status, c.owner_kind, m.created_at, m.author
             FROM conversations c JOIN messages m ON m.conversation_id = c.id
             WHERE (c.created_at >= ?1 OR c.status <> 'resolved') AND m.private = 0
             ORDER BY c.id, m.id",
        )?;
        let mut rows: Vec<RawRow> = Vec::new();
        let mut q = stmt.query([since])?;
        while let Some(r) = q.next()? {
            let id: i64 = r.get(0)?;
            if rows.last().is_none_or(|l| l.0 != id) {
                rows.push((id, r.get(1)?, r.get(2)?, r.get(3)?, Vec::new()));
            }
            if let Some(last) = rows.last_mut() {
                last.4.push((r.get(4)?, r.get(5)?));
            }
        }
        if rows.len() < args.conversations / 2 {
            bail!("the plain read found only {} conversations", rows.len());
        }
        raw.push(t.elapsed().as_secs_f64() * 1000.0);
    }

    // (b)–(d) through the real HTTP path, signed in as a supervisor.
    let user = store
        .create_user(NewUser {
            email: "supervisora@loja.example".into(),
            name: "Supervisora".into(),
            role: Role::Supervisor,
            language: "pt-BR".into(),
            password_hash: "-".into(),
        })
        .await?;
    let token = concierge_server::session::random_token().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    store
        .create_session(
            user.id,
            concierge_server::session::token_hash(&token),
            concierge_server::session::random_token().map_err(|e| anyhow::anyhow!("{e:?}"))?,
            now + 3_600_000,
        )
        .await?;
    let (addr, server) = Running::start(store.clone()).await?;
    let cookie = format!("{}={token}", concierge_server::session::COOKIE);
    let mut conn = Conn::open(&addr).await?;
    let days = args.days;
    let runs = args.runs;
    let (dashboard, dash_bytes) = time(
        &mut conn,
        &cookie,
        &format!("/app/dashboard?days={days}"),
        runs,
    )
    .await?;
    let (csv, csv_bytes) = time(
        &mut conn,
        &cookie,
        &format!("/app/dashboard.csv?days={days}"),
        runs,
    )
    .await?;
    let (inbox, _) = time(&mut conn, &cookie, "/app", runs).await?;
    server.stop().await;
    store.shutdown();
    let _ = std::fs::remove_dir_all(&tmp);

    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        percentile(&v, 0.5)
    };
    let (raw, dashboard, csv, inbox) = (median(raw), median(dashboard), median(csv), median(inbox));
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "conversations": args.conversations,
                "days": args.days,
                "raw_read_ms": raw,
                "dashboard_ms": dashboard,
                "dashboard_bytes": dash_bytes,
                "csv_ms": csv,
                "csv_bytes": csv_bytes,
                "inbox_ms": inbox,
                "seed_s": seeded.as_secs_f64(),
            })
        );
        return Ok(());
    }
    println!(
        "\n{} conversations over {} days, median of {} runs",
        args.conversations, args.days, args.runs
    );
    println!("| | ms |\n|---|---:|");
    println!("| (a) raw SQLite read of the period's conversations and message times | {raw:.1} |");
    println!(
        "| (b) GET /app/dashboard?days={days} ({} KB) | {dashboard:.1} |",
        dash_bytes / 1024
    );
    println!(
        "| (c) GET /app/dashboard.csv?days={days} ({} KB) | {csv:.1} |",
        csv_bytes / 1024
    );
    println!("| (d) GET /app (inbox, 200 newest) | {inbox:.1} |");
    println!("dashboard / raw read: {:.1}×", dashboard / raw.max(0.001));
    Ok(())
}
