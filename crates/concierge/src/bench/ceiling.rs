//! (b0) About what (b) would be without the identity work: the same axum server and Segment
//! parsing, answering after a group commit of plain inserts into the same `events` table, with no
//! identity resolution, profiles, traits, consent, key checks or back-pressure. The distance from (b) to (b0) is what the
//! identity work costs under HTTP; the distance from (b0) to (a) is what HTTP, parsing and
//! commits of the size that concurrent requests make cost.

use anyhow::Result;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use concierge_segment::{parse, to_events, Call, IngestContext, Limits};
use concierge_store::sqlite::schema;
use concierge_types::NewEvent;
use std::path::Path;
use std::sync::mpsc;
use tokio::sync::oneshot;

type Job = (Vec<NewEvent>, oneshot::Sender<Result<usize, String>>);

/// The running ceiling: its address, its server, and its writer (which closes its file when
/// stopped, so its last checkpoint is not left to run during the next measurement).
pub(super) struct Ceiling {
    pub addr: String,
    server: super::Running,
    writer: std::thread::JoinHandle<()>,
    stop: mpsc::Sender<Option<Job>>,
}

impl Ceiling {
    pub async fn stop(self) -> Result<()> {
        self.server.stop().await;
        let _ = self.stop.send(None);
        let writer = self.writer;
        tokio::task::spawn_blocking(move || writer.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the ceiling's writer panicked"))
    }
}

/// Starts the inserting thread and the HTTP server.
pub(super) async fn start(db: &Path) -> Result<Ceiling> {
    let mut conn = rusqlite::Connection::open(db)?;
    schema::configure(&conn)?;
    conn.execute_batch(schema::EVENTS_TABLE)?;
    let (tx, rx) = mpsc::channel::<Option<Job>>();
    let writer = std::thread::Builder::new()
        .name("ceiling-writer".into())
        .spawn(move || {
            while let Ok(Some(first)) = rx.recv() {
                let mut jobs = vec![first];
                let mut stop = false;
                for job in rx.try_iter() {
                    match job {
                        Some(job) => jobs.push(job),
                        None => stop = true,
                    }
                }
                let result = insert(&mut conn, &jobs);
                for (events, reply) in jobs {
                    let _ = reply.send(result.clone().map(|()| events.len()));
                }
                if stop {
                    break;
                }
            }
        })?;
    let app = Router::new()
        .route("/v1/batch", post(batch))
        .with_state(tx.clone());
    let (addr, server) = super::Running::serve(app).await?;
    Ok(Ceiling {
        addr,
        server,
        writer,
        stop: tx,
    })
}

/// One group commit, with the statement the store uses for its events.
fn insert(conn: &mut rusqlite::Connection, jobs: &[Job]) -> Result<(), String> {
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO events (profile_id, dedup_key, kind, name, channel, source, ts, received_at, consent, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (dedup_key) DO NOTHING",
            )
            .map_err(|e| e.to_string())?;
        for e in jobs.iter().flat_map(|(events, _)| events) {
            super::insert_row(&mut stmt, e).map_err(|e| e.to_string())?;
        }
    }
    tx.commit().map_err(|e| e.to_string())
}

async fn batch(State(tx): State<mpsc::Sender<Option<Job>>>, body: Bytes) -> (StatusCode, String) {
    let limits = Limits::default();
    let request = match parse(Call::Batch, &body, &limits) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, e.message),
    };
    let ctx = IngestContext {
        source: "bench",
        received_at: chrono::Utc::now().timestamp_millis(),
        default_region: "BR",
        limits,
    };
    let (events, _) = to_events(request, &ctx);
    let (reply, answer) = oneshot::channel();
    if tx.send(Some((events, reply))).is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "stopped".into());
    }
    match answer.await {
        Ok(Ok(n)) => (
            StatusCode::OK,
            format!(r#"{{"success":true,"accepted":{n}}}"#),
        ),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "stopped".into()),
    }
}
