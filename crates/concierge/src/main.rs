//! The `concierge` command: `serve`, `keys`, `import`, `bench`.

mod bench;
mod bot_eval;
mod config;
mod demo;
mod import;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use concierge_store::sqlite::SqliteStore;
use concierge_store::Store;
use concierge_types::KeyScope;
use config::{Config, Overrides};
use std::path::PathBuf;
use std::sync::Arc;

/// glibc's allocator spends much of ingestion freeing, on the writer thread, what the HTTP
/// threads allocated; mimalloc's thread-local free lists make that cheap.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "concierge",
    version,
    about = "Customer data, conversations, bot and insights in one binary"
)]
struct Cli {
    /// Configuration file (TOML). Default: DATA_DIR/concierge.toml when it exists.
    /// (Named so, not `--config`, which `channels add` takes for a channel's settings.)
    #[arg(long = "config-file", global = true)]
    config_file: Option<PathBuf>,
    /// Data folder of the embedded store [default: ./concierge-data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long)]
        listen: Option<String>,
    },
    /// Run the server on a fresh data folder filled with a demo shop (customers, orders,
    /// conversations in every state, people and teams); prints one `login:` line per person.
    Demo {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long)]
        listen: Option<String>,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The people who sign in to the workspace.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Connect messaging channels (WhatsApp, Messenger, Instagram, Telegram, Viber, TikTok…).
    Channels {
        #[command(subcommand)]
        command: ChannelsCommand,
    },
    /// Bulk-load data.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// The bot: evaluate intent recognition.
    Bot {
        #[command(subcommand)]
        command: BotCommand,
    },
    /// Measure performance next to a baseline.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; its secret is printed as the last line and never shown again.
    Create {
        #[arg(long)]
        name: String,
        /// `ingest` (a Segment write key) or `admin` (the REST API).
        #[arg(long, value_parser = ["ingest", "admin"])]
        scope: String,
    },
    /// List keys (id, scope, name, prefix of the secret, created, revoked).
    List,
    /// Revoke a key by id; a running server stops accepting it within 30 seconds.
    Revoke { id: i64 },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a user; the password is read from standard input (one line, 10 characters or more).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["agent", "supervisor", "admin"])]
        role: String,
        /// The workspace's language for this person.
        #[arg(long, default_value = "pt-BR", value_parser = ["pt-BR", "en"])]
        language: String,
    },
    /// List users (id, role, e-mail, name).
    List,
}

#[derive(Subcommand)]
enum ChannelsCommand {
    /// Connect a channel; prints its id and the webhook URL to give the provider.
    Add {
        /// whatsapp, messenger, instagram, telegram, viber, tiktok, email, webchat, store, api.
        kind: String,
        #[arg(long)]
        name: String,
        /// The channel's settings as a JSON object (see the README for each kind's fields).
        #[arg(long, default_value = "{}")]
        config: String,
    },
    /// List connected channels (secrets masked).
    List,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Load Segment messages, one JSON object per line.
    Segment {
        file: PathBuf,
        /// Provenance recorded on the imported identifiers and traits.
        #[arg(long, default_value = "segment-import")]
        source: String,
    },
    /// Load store purchases, returns and service visits from CSV, one row per item, with the
    /// header type,id,store_id,occurred_at,loyalty_id,phone,email,name,sku,product,quantity,
    /// unit_price,total,currency,notes,staff (any order; unused columns may be left out).
    Store {
        file: PathBuf,
        #[arg(long, default_value = "store-import")]
        source: String,
    },
}

#[derive(Subcommand)]
enum BotCommand {
    /// Check and train a bot definition (intents, examples, answers, rules) and make it the
    /// active bot; a running server picks it up within seconds.
    Train {
        /// The definition (JSON; see crates/bot/starter/README.md).
        file: PathBuf,
        /// A held-aside test file to measure the trained bot on.
        #[arg(long)]
        test: Option<PathBuf>,
        /// Check and measure only; don't activate.
        #[arg(long)]
        dry_run: bool,
    },
    /// Train on a dataset and print intent accuracy, out-of-scope recall and precision, training
    /// time and query latency next to the reference figures.
    Eval(bot_eval::EvalArgs),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Ingestion throughput and 360° view latency, next to raw SQLite inserts.
    Ingest(bench::IngestArgs),
    /// Signed WhatsApp webhooks at increasing concurrency, next to raw SQLite inserts.
    Webhooks(bench::WebhookArgs),
    /// The supervisor's indicators and the inbox over many conversations, next to a raw read.
    Desk(bench::DeskArgs),
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("CONCIERGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let listen = match &cli.command {
        Command::Serve { listen } | Command::Demo { listen } => listen.clone(),
        _ => None,
    };
    let overrides = Overrides {
        config: cli.config_file.clone(),
        data_dir: cli.data_dir.clone(),
        listen,
    };
    // The store's writer thread keeps a core busy under load; the HTTP workers get the others.
    let workers =
        std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    match cli.command {
        Command::Serve { .. } => runtime.block_on(serve(Config::load(&overrides)?, false)),
        Command::Demo { .. } => {
            // A fresh folder: the one given (which must hold no store yet), else a new private
            // one. A folder made here is removed again if the demo can't be filled.
            let (dir, made) = match &overrides.data_dir {
                Some(d) => {
                    anyhow::ensure!(
                        !d.join("concierge.db").exists(),
                        "the demo starts on a fresh data folder, and {} already holds a store; choose another --data-dir",
                        d.display()
                    );
                    (d.clone(), false)
                }
                None => (demo::private_dir()?, true),
            };
            let overrides = Overrides {
                data_dir: Some(dir.clone()),
                ..overrides
            };
            let result = runtime.block_on(async { serve(Config::load(&overrides)?, true).await });
            if result.is_err() && made {
                let _ = std::fs::remove_dir_all(&dir);
            }
            result
        }
        Command::Keys {
            command: KeysCommand::Create { name, scope },
        } => {
            let config = Config::load(&overrides)?;
            let scope = KeyScope::parse(&scope).context("scope must be ingest or admin")?;
            let store = open_store(&config)?;
            let (key, secret) = runtime.block_on(store.create_key(&name, scope))?;
            store.shutdown();
            println!(
                "created {} key {:?} (id {}) in {}",
                key.scope.as_str(),
                key.name,
                key.id,
                config.data_dir.display()
            );
            println!("store it now: only its hash is kept");
            println!("{secret}");
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::List,
        } => {
            let store = open_store(&Config::load(&overrides)?)?;
            let keys = runtime.block_on(store.list_keys())?;
            store.shutdown();
            println!(
                "{:>4}  {:<7} {:<24} {:<16} {:<25} revoked",
                "id", "scope", "name", "prefix", "created"
            );
            for k in keys {
                let revoked = k
                    .revoked_at
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:>4}  {:<7} {:<24} {:<16} {:<25} {revoked}",
                    k.id,
                    k.scope.as_str(),
                    k.name,
                    k.prefix,
                    k.created_at.to_rfc3339()
                );
            }
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Revoke { id },
        } => {
            let store = open_store(&Config::load(&overrides)?)?;
            let revoked = runtime.block_on(store.revoke_key(concierge_types::KeyId(id)))?;
            store.shutdown();
            anyhow::ensure!(revoked, "no active key has id {id}");
            println!("revoked key {id}");
            Ok(())
        }
        Command::Channels {
            command: ChannelsCommand::Add { kind, name, config },
        } => {
            let cfg = Config::load(&overrides)?;
            let json: serde_json::Value =
                serde_json::from_str(&config).context("--config must be a JSON object")?;
            let new = concierge_server::validate_channel(&kind, &name, json)
                .map_err(|e| anyhow::anyhow!(e))?;
            let store = open_store(&cfg)?;
            let record = runtime.block_on(store.create_channel(new));
            store.shutdown();
            let record = record?;
            println!(
                "connected {} channel {:?}",
                record.kind.as_str(),
                record.name
            );
            println!("webhook URL: {}/webhooks/{}", cfg.public_base(), record.id);
            println!("{}", record.id);
            Ok(())
        }
        Command::Users {
            command:
                UsersCommand::Create {
                    email,
                    name,
                    role,
                    language,
                },
        } => {
            let cfg = Config::load(&overrides)?;
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            concierge_server::session::check_password(&password).map_err(|e| anyhow::anyhow!(e))?;
            anyhow::ensure!(
                email.contains('@') && email.len() <= 254,
                "--email must be an e-mail address"
            );
            anyhow::ensure!(!name.trim().is_empty(), "--name must not be empty");
            let hash = concierge_server::session::hash_password(&password)
                .map_err(|e| anyhow::anyhow!(e))?;
            let store = open_store(&cfg)?;
            let user = runtime.block_on(store.create_user(concierge_store::NewUser {
                email,
                name: name.trim().to_string(),
                role: concierge_types::Role::parse(&role).unwrap_or(concierge_types::Role::Agent),
                language,
                password_hash: hash,
            }));
            store.shutdown();
            let user = user?;
            println!(
                "created {} {} ({})",
                user.role.as_str(),
                user.email,
                user.id
            );
            Ok(())
        }
        Command::Users {
            command: UsersCommand::List,
        } => {
            let cfg = Config::load(&overrides)?;
            let store = open_store(&cfg)?;
            let users = runtime.block_on(store.users());
            store.shutdown();
            for u in users? {
                println!(
                    "{:>4}  {:<10} {:<32} {}",
                    u.id,
                    u.role.as_str(),
                    u.email,
                    u.name
                );
            }
            Ok(())
        }
        Command::Channels {
            command: ChannelsCommand::List,
        } => {
            let cfg = Config::load(&overrides)?;
            let store = open_store(&cfg)?;
            let channels = runtime.block_on(store.channels());
            store.shutdown();
            for c in channels? {
                println!(
                    "{}  {:<10} {:<24} {}/webhooks/{}",
                    c.id,
                    c.kind.as_str(),
                    c.name,
                    cfg.public_base(),
                    c.id
                );
            }
            Ok(())
        }
        Command::Import {
            command: ImportCommand::Segment { file, source },
        } => {
            let config = Config::load(&overrides)?;
            let store = Arc::new(open_store(&config)?);
            let result = runtime.block_on(import::segment(store.clone(), &config, &file, &source));
            store.shutdown();
            result
        }
        Command::Import {
            command: ImportCommand::Store { file, source },
        } => {
            let config = Config::load(&overrides)?;
            let store = Arc::new(open_store(&config)?);
            let result = runtime.block_on(import::store(store.clone(), &config, &file, &source));
            store.shutdown();
            result
        }
        Command::Bot {
            command: BotCommand::Eval(args),
        } => bot_eval::eval(args),
        Command::Bot {
            command:
                BotCommand::Train {
                    file,
                    test,
                    dry_run,
                },
        } => {
            let body = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let bot = bot_eval::train_definition(&body, test.as_deref())?;
            if dry_run {
                return Ok(());
            }
            let config = Config::load(&overrides)?;
            let store = open_store(&config)?;
            let version = runtime.block_on(store.save_bot_definition(body));
            store.shutdown();
            println!(
                "bot {:?} is active (version {}); running servers switch to it within seconds",
                bot.def.name, version?
            );
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Ingest(args),
        } => runtime.block_on(bench::ingest(args)),
        Command::Bench {
            command: BenchCommand::Webhooks(args),
        } => runtime.block_on(bench::webhooks(args)),
        Command::Bench {
            command: BenchCommand::Desk(args),
        } => runtime.block_on(bench::desk(args)),
    }
}

fn open_store(config: &Config) -> Result<SqliteStore> {
    SqliteStore::open(config.store_options())
        .with_context(|| format!("opening the store in {}", config.data_dir.display()))
}

/// Runs the server; with `demo`, first fills the (fresh) store with the demo shop and prints
/// its logins. The address is bound first, so a busy port leaves nothing behind.
async fn serve(config: Config, demo: bool) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let store = Arc::new(open_store(&config)?);
    let mut logins = Vec::new();
    if demo {
        if !addr.ip().is_loopback() {
            eprintln!("warning: the demo listens on {addr}, beyond this machine; its passwords are printed here");
        }
        let provider = demo::provider_stand_in().await?;
        eprintln!("filling the demo shop (Loja Aurora)…");
        let dyn_store: Arc<dyn Store> = store.clone();
        let seeded = demo::seed(&dyn_store, &config, &provider).await;
        logins = match seeded {
            Ok(l) => l,
            Err(e) => {
                store.shutdown();
                return Err(e).context("filling the demo");
            }
        };
    }
    let app = concierge_server::app(store.clone(), config.server_config());
    if demo {
        println!(
            "Concierge demo listening on http://{addr}/login (data in {})",
            config.data_dir.display()
        );
        for l in &logins {
            println!("login: {} {} {}", l.role.as_str(), l.email, l.password);
        }
    } else {
        println!(
            "Concierge listening on http://{addr} (data in {})",
            config.data_dir.display()
        );
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    concierge_server::serve(listener, app, shutdown_signal()).await?;
    tracing::info!("stopping: committing what is queued");
    store.shutdown();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
