//! The bot through the API: `PUT /api/v1/bot` trains and activates a definition (every node picks
//! it up), `GET /api/v1/bot` says which is active, `POST /api/v1/bot/classify` shows what the bot
//! makes of a text, `GET /api/v1/bot/indicators` reports containment, handoffs, intents and
//! fallbacks, `POST /api/v1/bot/timers` runs the time-based rules now.

use super::{read_body, Query};
use crate::auth::Admin;
use crate::error::{Failure, Result};
use crate::SharedState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use concierge_bot::definition::Definition;
use concierge_bot::engine::Bot;
use concierge_messaging::bot::{Active, Indicators};
use concierge_types::ErrorCode;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Largest definition accepted, in bytes.
pub const MAX_DEFINITION_BYTES: usize = 4 * 1024 * 1024;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/bot", get(active).put(train))
        .route("/api/v1/bot/classify", post(classify))
        .route("/api/v1/bot/indicators", get(indicators))
        .route("/api/v1/bot/timers", post(timers))
}

/// Checks and trains a definition, then makes it the active one.
pub async fn activate(
    store: &Arc<dyn concierge_store::Store>,
    messaging: &concierge_messaging::Messaging,
    body: String,
) -> std::result::Result<Value, Failure> {
    let def = Definition::parse(&body).map_err(|problems| {
        Failure::new(
            ErrorCode::InvalidBotDefinition,
            format!("the bot definition has problems: {}", problems.join("; ")),
        )
    })?;
    let bot = tokio::task::spawn_blocking(move || Bot::train(def))
        .await
        .map_err(|e| Failure::new(ErrorCode::Internal, e.to_string()))?;
    let version = store.save_bot_definition(body).await?;
    let since = store
        .bot_definition()
        .await?
        .filter(|d| d.version == version)
        .map(|d| d.created_at)
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    let report = json!({"version": version, "name": bot.def.name, "training": bot.report});
    messaging.set_active_bot(Arc::new(Active {
        version,
        since,
        bot,
    }));
    messaging.bot_wake.notify_one();
    Ok(report)
}

async fn train(
    _: Admin,
    State(s): State<SharedState>,
    body: axum::body::Body,
) -> Result<Json<Value>> {
    let bytes = read_body(body, MAX_DEFINITION_BYTES).await?;
    let body = String::from_utf8(bytes.to_vec()).map_err(|_| {
        Failure::new(
            ErrorCode::InvalidBotDefinition,
            "the definition is not UTF-8",
        )
    })?;
    Ok(Json(activate(&s.store, &s.messaging, body).await?))
}

async fn active(_: Admin, State(s): State<SharedState>) -> Result<Json<Value>> {
    let Some(a) = s.messaging.active_bot() else {
        return Err(Failure::new(
            ErrorCode::NoBot,
            "no bot definition has been trained yet",
        ));
    };
    let def = &a.bot.def;
    // The last customer message the bot (and the message rules) has handled.
    let handled: i64 = s
        .store
        .cursor("bot")
        .await?
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok(Json(json!({
        "version": a.version,
        "handled_up_to": handled,
        "name": def.name,
        "languages": def.languages,
        "default_language": def.default_language,
        "intents": def.intents.iter().map(|i| &i.name).collect::<Vec<_>>(),
        "rules": def.rules.iter().map(|r| json!({"name": r.name, "on": r.on.as_str()})).collect::<Vec<_>>(),
        "training": a.bot.report,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassifyBody {
    text: String,
}

async fn classify(
    _: Admin,
    State(s): State<SharedState>,
    body: axum::body::Body,
) -> Result<Json<Value>> {
    let bytes = read_body(body, 64 * 1024).await?;
    let req: ClassifyBody = serde_json::from_slice(&bytes).map_err(|e| {
        Failure::new(
            ErrorCode::InvalidRequest,
            format!("expected {{\"text\"}}: {e}"),
        )
    })?;
    let Some(a) = s.messaging.active_bot() else {
        return Err(Failure::new(
            ErrorCode::NoBot,
            "no bot definition has been trained yet",
        ));
    };
    let reading = a.bot.classify(&req.text);
    let lang = concierge_bot::lang::detect(&req.text);
    let mood = concierge_bot::mood::assess(&req.text);
    Ok(Json(json!({
        "intent": reading.intent,
        "best": reading.best,
        "confidence": reading.confidence,
        "runner_up": reading.runner_up,
        "language": lang.lang.map(|l| l.tag()),
        "frustrated": mood.frustrated(),
        "signals": mood.signals,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Period {
    /// From (ms since the epoch); default 30 days ago.
    since: Option<i64>,
    /// Until (ms, exclusive); default now.
    until: Option<i64>,
}

async fn indicators(
    _: Admin,
    State(s): State<SharedState>,
    Query(p): Query<Period>,
) -> Result<Json<Value>> {
    let now = chrono::Utc::now().timestamp_millis();
    let until = p.until.unwrap_or(now + 1);
    let since = p.since.unwrap_or(until - 30 * 24 * 3600 * 1000);
    if since >= until {
        return Err(Failure::new(
            ErrorCode::InvalidRequest,
            "since must be before until",
        ));
    }
    let rows = s.store.bot_turns(since, until).await?;
    let mut v = serde_json::to_value(Indicators::from_turns(&rows))
        .map_err(|e| Failure::new(ErrorCode::Internal, e.to_string()))?;
    v["since"] = since.into();
    v["until"] = until.into();
    Ok(Json(v))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TimersBody {
    /// Run as if it were this time (ms); default now. For checking rules before they go live.
    now: Option<i64>,
}

async fn timers(
    _: Admin,
    State(s): State<SharedState>,
    body: axum::body::Body,
) -> Result<Json<Value>> {
    let bytes = read_body(body, 4096).await?;
    let req: TimersBody = if bytes.is_empty() {
        TimersBody::default()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            Failure::new(
                ErrorCode::InvalidRequest,
                format!("expected {{\"now\"?}}: {e}"),
            )
        })?
    };
    let now = req
        .now
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    let fired = concierge_messaging::bot::run_timers(&s.messaging, now)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "timer rules failed");
            Failure::new(
                ErrorCode::Internal,
                "the timer rules could not run; retry later",
            )
        })?;
    Ok(Json(json!({"fired": fired})))
}
