//! The one typed configuration. Sources, each overriding the one before: defaults, the TOML file
//! (`--config-file FILE`, else `DATA_DIR/concierge.toml` if present), `CONCIERGE_*` environment
//! variables, command-line flags. Unknown keys in the file are an error, not a silent typo.

use anyhow::{Context, Result};
use concierge_identity::Rules;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port to listen on (`CONCIERGE_LISTEN`, `--listen`).
    pub listen: String,
    /// Folder of the embedded store (`CONCIERGE_DATA_DIR`, `--data-dir`).
    pub data_dir: PathBuf,
    /// Public base URL (`https://cx.example.com`) given to analytics.js; default: the request's Host.
    pub public_url: Option<String>,
    pub ingest: IngestConfig,
    /// Identity resolution rules (`default_region` also reads `CONCIERGE_DEFAULT_REGION`).
    pub identity: Rules,
    /// SLA targets and the business hours they are counted in (see the README's workspace
    /// section).
    pub sla: concierge_desk::SlaConfig,
}

/// Limits of the tracking API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Largest body of a single call, in bytes (decompressed).
    pub max_call_bytes: usize,
    /// Largest body of a batch, in bytes (decompressed).
    pub max_batch_bytes: usize,
    /// Largest single event, in bytes.
    pub max_event_bytes: usize,
    /// Most events in one batch.
    pub max_batch_events: usize,
    /// Events waiting for the disk beyond which clients get 429 with Retry-After.
    pub max_pending_events: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        let l = concierge_segment::Limits::default();
        IngestConfig {
            max_call_bytes: l.max_call_bytes,
            max_batch_bytes: l.max_batch_bytes,
            max_event_bytes: l.max_event_bytes,
            max_batch_events: l.max_batch_events,
            max_pending_events: 200_000,
        }
    }
}

impl IngestConfig {
    pub fn limits(&self) -> concierge_segment::Limits {
        concierge_segment::Limits {
            max_call_bytes: self.max_call_bytes,
            max_batch_bytes: self.max_batch_bytes,
            max_event_bytes: self.max_event_bytes,
            max_batch_events: self.max_batch_events,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./concierge-data"),
            public_url: None,
            ingest: IngestConfig::default(),
            identity: Rules::default(),
            sla: concierge_desk::SlaConfig::default(),
        }
    }
}

/// Values given on the command line; `None` means "not given".
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
}

impl Config {
    pub fn load(cli: &Overrides) -> Result<Config> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let data_dir = cli
            .data_dir
            .clone()
            .or_else(|| env("CONCIERGE_DATA_DIR").map(PathBuf::from));
        let file = cli
            .config
            .clone()
            .or_else(|| env("CONCIERGE_CONFIG").map(PathBuf::from))
            .or_else(|| {
                let d = data_dir
                    .clone()
                    .unwrap_or_else(|| Config::default().data_dir);
                let f = d.join("concierge.toml");
                f.exists().then_some(f)
            });
        let mut config = match &file {
            Some(f) => Self::from_file(f)?,
            None => Config::default(),
        };
        if let Some(v) = env("CONCIERGE_LISTEN") {
            config.listen = v;
        }
        if let Some(v) = env("CONCIERGE_PUBLIC_URL") {
            config.public_url = Some(v);
        }
        if let Some(v) = env("CONCIERGE_DEFAULT_REGION") {
            config.identity.default_region = v;
        }
        if let Some(d) = data_dir {
            config.data_dir = d;
        }
        if let Some(l) = &cli.listen {
            config.listen = l.clone();
        }
        config.identity.default_region = config.identity.default_region.to_ascii_uppercase();
        if !concierge_types::normalize::is_known_region(&config.identity.default_region) {
            anyhow::bail!(
                "identity.default_region {:?} is not a known ISO 3166 region",
                config.identity.default_region
            );
        }
        config
            .sla
            .compile()
            .map_err(|e| anyhow::anyhow!("sla: {e}"))?;
        Ok(config)
    }

    fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("config {}", path.display()))
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("concierge.db")
    }

    /// The base URL providers and browsers reach us at: `public_url`, else `http://LISTEN`.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    pub fn store_options(&self) -> concierge_store::sqlite::SqliteOptions {
        let mut o = concierge_store::sqlite::SqliteOptions::new(self.db_path());
        o.rules = self.identity.clone();
        o.max_pending_events = self.ingest.max_pending_events;
        o
    }

    pub fn server_config(&self) -> concierge_server::ServerConfig {
        concierge_server::ServerConfig {
            limits: self.ingest.limits(),
            default_region: self.identity.default_region.clone(),
            public_url: self.public_url.clone(),
            sla: self.sla.compile().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected() {
        let e = toml::from_str::<Config>("lissten = 'x'").unwrap_err();
        assert!(e.to_string().contains("lissten"));
    }

    #[test]
    fn identity_rules_are_configurable() {
        let c: Config = toml::from_str(
            "[identity]\ndefault_region = 'PT'\nunique_kinds = ['user_id', 'email']\nblocked = [{ kind = 'email', value = '*@example.org' }]\n[identity.max_per_kind]\nphone = 2\n",
        )
        .unwrap();
        assert_eq!(c.identity.default_region, "PT");
        assert_eq!(c.identity.unique_kinds.len(), 2);
        assert_eq!(c.identity.limit(concierge_types::IdentifierKind::Phone), 2);
    }

    #[test]
    fn sla_policies_are_configurable() {
        let c: Config = toml::from_str(
            "[sla]\nutc_offset = '-03:00'\nholidays = ['2026-12-25']\nfirst_response_minutes = 15\n\
             [sla.hours]\nmon = '08:00-20:00'\nsat = '09:00-13:00'\n[sla.channels.email]\nfirst_response_minutes = 240\n",
        )
        .unwrap();
        let sla = c.sla.compile().unwrap();
        assert_eq!(sla.targets.first_response_minutes, 15);
        assert_eq!(
            sla.targets(concierge_types::conversation::ChannelKind::Email)
                .first_response_minutes,
            240
        );
        assert!(toml::from_str::<Config>("[sla]\nfirst_respnse_minutes = 1\n").is_err());
        let bad: Config = toml::from_str("[sla.hours]\nmonday = '09:00-18:00'\n").unwrap();
        assert!(bad.sla.compile().unwrap_err().contains("monday"));
    }
}
