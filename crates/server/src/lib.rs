//! The HTTP server over a [`Store`].
//!
//! - `routes::tracking`: the Segment-compatible tracking API (`/v1/*`, short aliases, settings, beacon).
//! - `routes::customers`: the REST API (360° view, timeline, consent ledger, export, erasure, merges).
//! - `routes::channels`: connecting channels, provider webhooks (`/webhooks/{id}`), the raw inbound log.
//! - `routes::conversations`: conversations and messages across channels; replies go to the outbox.
//! - `auth`: API keys; admin handlers take an [`auth::Admin`] extractor, so a forgotten check does not compile.
//! - `error`: every error answer has the one JSON shape of [`concierge_types::ApiError`].

pub mod auth;
pub mod error;
mod routes;
pub mod session;

use concierge_messaging::Messaging;
use concierge_segment::Limits;
use concierge_store::Store;
use std::net::SocketAddr;
use std::sync::Arc;

/// What the server needs besides the store.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub limits: Limits,
    /// Region for phone numbers written without a country code.
    pub default_region: String,
    /// The address clients reach us at (`https://cx.example.com`), for the analytics.js settings.
    /// When unset, it is taken from the request's `Host`.
    pub public_url: Option<String>,
    /// SLA targets and business hours for the workspace's badges and indicators.
    pub sla: concierge_desk::Sla,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            default_region: "BR".into(),
            public_url: None,
            sla: concierge_desk::Sla::default(),
        }
    }
}

/// Shared by every handler.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: ServerConfig,
    pub keys: auth::KeyCache,
    pub messaging: Arc<Messaging>,
}

pub type SharedState = Arc<AppState>;

pub use routes::validate_channel;

/// The routes, and on the current runtime the conversation workers (inbound processor, outbox
/// sender).
pub fn app(store: Arc<dyn Store>, config: ServerConfig) -> axum::Router {
    let messaging = Messaging::new(
        store.clone(),
        &config.default_region,
        config.public_url.clone(),
    );
    messaging.start();
    let state = Arc::new(AppState {
        store,
        config,
        keys: auth::KeyCache::default(),
        messaging,
    });
    routes::router(state)
}

/// Serves `app` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
