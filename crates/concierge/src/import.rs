//! `concierge import segment FILE.jsonl`: one Segment message per line. Each line is validated whole
//! before anything is written, so a bad line is reported with its number and skipped, never
//! half-applied; valid lines are committed in chunks through the same store path as live traffic.

use crate::config::Config;
use anyhow::{Context, Result};
use concierge_segment::{to_event, IngestContext};
use concierge_store::{IngestReport, Store};
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHUNK: usize = 5_000;
/// Bad lines printed one by one; past this only counted.
const MAX_REPORTED: usize = 200;

pub async fn segment(
    store: Arc<dyn Store>,
    config: &Config,
    path: &Path,
    source: &str,
) -> Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let limits = config.ingest.limits();
    let source = format!("import:{source}");
    let mut progress = Progress::new(total);
    let (mut read_bytes, mut line_no, mut bad, mut chunk) =
        (0u64, 0usize, 0usize, Vec::with_capacity(CHUNK));
    let mut total = IngestReport::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader
            .by_ref()
            .take(limits.max_event_bytes as u64 * 4)
            .read_until(b'\n', &mut buf)
            .context("reading the file")?;
        if n == 0 {
            break;
        }
        read_bytes += n as u64;
        line_no += 1;
        let oversize = !buf.ends_with(b"\n") && n as u64 == limits.max_event_bytes as u64 * 4;
        if oversize {
            // Skip the rest of an absurdly long line.
            let mut rest = Vec::new();
            read_bytes += reader.read_until(b'\n', &mut rest).unwrap_or(0) as u64;
        }
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let ctx = IngestContext {
            source: &source,
            received_at: chrono::Utc::now().timestamp_millis(),
            default_region: &config.identity.default_region,
            limits,
        };
        let parsed = if oversize {
            Err(format!(
                "line is longer than {} bytes",
                limits.max_event_bytes * 4
            ))
        } else {
            serde_json::from_str(text)
                .map_err(|e| format!("invalid_json: {e}"))
                .and_then(|v| to_event(v, &ctx).map_err(|e| format!("{}: {}", e.code, e.message)))
        };
        match parsed {
            Ok(ev) => chunk.push(ev),
            Err(why) => {
                bad += 1;
                if bad <= MAX_REPORTED {
                    progress.clear();
                    eprintln!("line {line_no}: {why}");
                }
            }
        }
        if chunk.len() >= CHUNK {
            flush(store.as_ref(), &mut chunk, &mut total).await?;
        }
        progress.update(read_bytes, line_no, total.accepted);
    }
    flush(store.as_ref(), &mut chunk, &mut total).await?;
    let IngestReport {
        accepted,
        duplicates,
        suppressed,
    } = total;
    progress.finish(read_bytes, line_no, accepted);
    if bad > MAX_REPORTED {
        eprintln!("… and {} more bad lines", bad - MAX_REPORTED);
    }
    println!("imported {accepted} events from {line_no} lines: {duplicates} duplicates skipped, {suppressed} suppressed, {bad} bad lines skipped");
    Ok(())
}

/// Stores what is in `chunk` (emptying it) and adds the outcome to `total`.
async fn flush(
    store: &dyn Store,
    chunk: &mut Vec<concierge_types::NewEvent>,
    total: &mut IngestReport,
) -> Result<()> {
    if chunk.is_empty() {
        return Ok(());
    }
    let r = store
        .ingest(std::mem::take(chunk))
        .await
        .context("storing events")?;
    total.accepted += r.accepted;
    total.duplicates += r.duplicates;
    total.suppressed += r.suppressed;
    Ok(())
}

/// A one-line progress bar on stderr (plain periodic lines when stderr is not a terminal).
struct Progress {
    total: u64,
    started: Instant,
    last: Instant,
    tty: bool,
    drawn: bool,
}

impl Progress {
    fn new(total: u64) -> Self {
        let now = Instant::now();
        Progress {
            total,
            started: now,
            last: now,
            tty: std::io::stderr().is_terminal(),
            drawn: false,
        }
    }

    fn line(&self, bytes: u64, lines: usize, events: usize) -> String {
        let frac = if self.total > 0 {
            (bytes as f64 / self.total as f64).min(1.0)
        } else {
            1.0
        };
        let width = 30;
        let filled = (frac * width as f64).round() as usize;
        let secs = self.started.elapsed().as_secs_f64().max(1e-6);
        format!(
            "[{}{}] {:>3.0}%  {lines} lines  {events} events  {:.0} lines/s",
            "#".repeat(filled),
            " ".repeat(width - filled),
            frac * 100.0,
            lines as f64 / secs
        )
    }

    fn update(&mut self, bytes: u64, lines: usize, events: usize) {
        let every = if self.tty {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(5)
        };
        if self.last.elapsed() < every {
            return;
        }
        self.last = Instant::now();
        let text = self.line(bytes, lines, events);
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r{text}");
            self.drawn = true;
        } else {
            let _ = writeln!(err, "{text}");
        }
        let _ = err.flush();
    }

    fn clear(&mut self) {
        if self.drawn {
            eprint!("\r{}\r", " ".repeat(80));
            self.drawn = false;
        }
    }

    fn finish(&mut self, bytes: u64, lines: usize, events: usize) {
        self.clear();
        eprintln!("{}", self.line(bytes, lines, events));
    }
}

/// One CSV row of `import store`, by header name.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct StoreRow {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    store_id: String,
    occurred_at: String,
    loyalty_id: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    name: Option<String>,
    sku: Option<String>,
    product: Option<String>,
    quantity: Option<f64>,
    unit_price: Option<f64>,
    total: Option<f64>,
    currency: Option<String>,
    notes: Option<String>,
    staff: Option<String>,
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// `concierge import store FILE.csv`: purchases, returns and service visits, one row per item;
/// consecutive rows with the same type, store and id form one receipt. A receipt with any bad row
/// is reported by line number and skipped whole.
pub async fn store(
    store: Arc<dyn Store>,
    config: &Config,
    path: &Path,
    source: &str,
) -> Result<()> {
    use concierge_channels::store_feed::{
        to_event, StoreCustomer, StoreEvent, StoreEventKind, StoreItem,
    };
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(BufReader::with_capacity(1 << 20, file));
    let source = format!("import:{source}");
    let mut progress = Progress::new(total);
    let (mut total, mut bad, mut rows) = (IngestReport::default(), 0usize, 0usize);
    let mut chunk = Vec::with_capacity(CHUNK);
    // The receipt being assembled: its key, first line, event and what was wrong with it.
    type Receipt = ((String, String, String), u64, StoreEvent, Option<String>);
    let mut current: Option<Receipt> = None;
    let region = config.identity.default_region.clone();
    let finish = |cur: Option<Receipt>,
                  chunk: &mut Vec<concierge_types::NewEvent>,
                  bad: &mut usize,
                  progress: &mut Progress| {
        let Some((_, line, event, problem)) = cur else {
            return;
        };
        let result = match problem {
            Some(p) => Err(p),
            None => to_event(
                &event,
                &source,
                chrono::Utc::now().timestamp_millis(),
                &region,
            ),
        };
        match result {
            Ok(ev) => chunk.push(ev),
            Err(why) => {
                *bad += 1;
                if *bad <= MAX_REPORTED {
                    progress.clear();
                    eprintln!("line {line}: receipt {:?} skipped: {why}", event.id);
                }
            }
        }
    };
    let headers = reader.headers().context("reading the CSV header")?.clone();
    let mut raw = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        let record = match reader.read_record(&mut raw) {
            Ok(false) => break,
            Ok(true) => raw.deserialize::<StoreRow>(Some(&headers)),
            Err(e) if e.is_io_error() => return Err(e).context("reading the file"),
            Err(e) => Err(e),
        };
        rows += 1;
        let row = match record {
            Ok(row) => row,
            Err(e) => {
                bad += 1;
                if bad <= MAX_REPORTED {
                    progress.clear();
                    eprintln!("line {line}: {e}");
                }
                continue;
            }
        };
        let key = (row.kind.clone(), row.store_id.clone(), row.id.clone());
        if current.as_ref().map(|c| &c.0) != Some(&key) {
            finish(current.take(), &mut chunk, &mut bad, &mut progress);
            let kind = StoreEventKind::parse(&row.kind);
            let problem = kind.is_none().then(|| {
                format!(
                    "type {:?} is not purchase, return or service_visit",
                    row.kind
                )
            });
            current = Some((
                key,
                line,
                StoreEvent {
                    kind: kind.unwrap_or(StoreEventKind::Purchase),
                    id: row.id.clone(),
                    store_id: row.store_id.clone(),
                    occurred_at: row.occurred_at.clone(),
                    customer: StoreCustomer {
                        loyalty_id: nonempty(row.loyalty_id.clone()),
                        phone: nonempty(row.phone.clone()),
                        email: nonempty(row.email.clone()),
                        name: nonempty(row.name.clone()),
                    },
                    items: Vec::new(),
                    total: row.total,
                    currency: nonempty(row.currency.clone()),
                    notes: nonempty(row.notes.clone()),
                    staff: nonempty(row.staff.clone()),
                },
                problem,
            ));
        }
        if let (Some(cur), Some(sku)) = (current.as_mut(), nonempty(row.sku)) {
            cur.2.items.push(StoreItem {
                sku,
                name: nonempty(row.product),
                quantity: row.quantity.unwrap_or(1.0),
                unit_price: row.unit_price,
            });
        }
        if chunk.len() >= CHUNK {
            flush(store.as_ref(), &mut chunk, &mut total).await?;
        }
        progress.update(reader.position().byte(), rows, total.accepted);
    }
    finish(current.take(), &mut chunk, &mut bad, &mut progress);
    flush(store.as_ref(), &mut chunk, &mut total).await?;
    let IngestReport {
        accepted,
        duplicates,
        suppressed,
    } = total;
    progress.finish(reader.position().byte(), rows, accepted);
    if bad > MAX_REPORTED {
        eprintln!("… and {} more bad receipts", bad - MAX_REPORTED);
    }
    println!("imported {accepted} store events from {rows} rows: {duplicates} duplicates skipped, {suppressed} suppressed, {bad} bad receipts skipped");
    Ok(())
}
