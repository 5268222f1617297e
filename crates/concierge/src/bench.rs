//! `concierge bench ingest` (written below).
use anyhow::Result;

#[derive(clap::Args)]
pub struct IngestArgs {
    /// Events to generate.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn ingest(_args: IngestArgs) -> Result<()> {
    anyhow::bail!("not yet")
}
