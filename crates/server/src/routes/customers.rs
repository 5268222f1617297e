//! The REST API of the customer data core. Every handler takes [`Admin`].

use super::{read_body, Path, Query};
use crate::auth::Admin;
use crate::error::{Failure, Result};
use crate::SharedState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use concierge_store::Cursor;
use concierge_types::consent::{
    ChannelScope, ConsentStatus, Evidence, LegalBasis, NewConsent, Purpose,
};
use concierge_types::view::{
    ConsentLedger, ConsentRecord, CustomerView, ErasureReceipt, ExportDocument, MergeView,
    TimelinePage, Timestamp,
};
use concierge_types::{ErrorCode, Identifier, MergeId, ProfileId};
use serde::Deserialize;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/customers", get(find))
        .route("/api/v1/customers/{id}", get(customer).delete(erase))
        .route("/api/v1/customers/{id}/timeline", get(timeline))
        .route(
            "/api/v1/customers/{id}/consents",
            get(consents).post(record_consent),
        )
        .route("/api/v1/customers/{id}/export", get(export))
        .route("/api/v1/merges/{id}", get(merge))
        .route("/api/v1/merges/{id}/undo", post(undo))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/erasures", get(erasures))
}

fn customer_id(raw: &str) -> Result<ProfileId> {
    raw.parse().map_err(|_| {
        Failure::new(
            ErrorCode::CustomerNotFound,
            format!("{raw:?} is not a customer id"),
        )
    })
}

fn not_found() -> Failure {
    Failure::new(ErrorCode::CustomerNotFound, "no customer has this id")
}

#[derive(Deserialize)]
struct FindQuery {
    identifier: Option<String>,
}

async fn find(
    _: Admin,
    State(s): State<SharedState>,
    Query(q): Query<FindQuery>,
) -> Result<Json<CustomerView>> {
    let raw = q.identifier.ok_or_else(|| {
        Failure::new(
            ErrorCode::InvalidRequest,
            "pass ?identifier=kind:value, e.g. email:ana@example.com",
        )
    })?;
    let identifier = Identifier::parse_pair(&raw, &s.config.default_region)
        .map_err(|e| Failure::new(ErrorCode::InvalidIdentifier, format!("{raw:?}: {e}")))?;
    let id = s.store.find_customer(&identifier).await?.ok_or_else(|| {
        Failure::new(
            ErrorCode::CustomerNotFound,
            "no customer has this identifier",
        )
    })?;
    s.store.customer(id).await?.map(Json).ok_or_else(not_found)
}

async fn customer(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Json<CustomerView>> {
    s.store
        .customer(customer_id(&id)?)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}

#[derive(Deserialize)]
struct PageQuery {
    limit: Option<usize>,
    before: Option<String>,
}

async fn timeline(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<TimelinePage>> {
    let before = match q.before.as_deref().filter(|b| !b.is_empty()) {
        Some(b) => Some(Cursor::parse(b).ok_or_else(|| {
            Failure::new(
                ErrorCode::InvalidRequest,
                "`before` must be a cursor from `next_before` or an RFC 3339 time",
            )
        })?),
        None => None,
    };
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 1000 {
        return Err(Failure::new(
            ErrorCode::InvalidRequest,
            "`limit` must be between 1 and 1000",
        ));
    }
    s.store
        .timeline(customer_id(&id)?, before, limit)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}

async fn consents(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Json<ConsentLedger>> {
    s.store
        .consents(customer_id(&id)?)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}

/// The body of `POST …/consents`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentBody {
    purpose: String,
    #[serde(default)]
    channel: Option<String>,
    status: String,
    legal_basis: String,
    #[serde(default)]
    notice_version: Option<String>,
    #[serde(default)]
    evidence: Option<Evidence>,
    #[serde(default)]
    effective_at: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
}

fn bad_consent(msg: impl Into<String>) -> Failure {
    Failure::new(ErrorCode::InvalidConsent, msg)
}

fn parse_consent(body: &[u8]) -> Result<NewConsent> {
    let b: ConsentBody = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => Failure::new(
            ErrorCode::InvalidJson,
            format!("the body is not valid JSON: {e}"),
        ),
        _ => bad_consent(e.to_string()),
    })?;
    let status = ConsentStatus::parse(&b.status)
        .filter(|s| *s != ConsentStatus::Expired)
        .ok_or_else(|| bad_consent("`status` must be granted, denied or withdrawn"))?;
    let legal_basis = LegalBasis::parse(&b.legal_basis).ok_or_else(|| {
        bad_consent("`legal_basis` must be consent, contract, legal_obligation, legitimate_interest, … or an article such as lgpd_7_i or gdpr_6_1_a")
    })?;
    let evidence = b.evidence.unwrap_or_default();
    if status == ConsentStatus::Granted
        && legal_basis == LegalBasis::Consent
        && (evidence.method.is_none() || evidence.touchpoint.is_none())
    {
        return Err(bad_consent("a grant based on consent needs `evidence.method` and `evidence.touchpoint` (the controller must be able to prove it)"));
    }
    let time = |name: &str, v: &Option<String>| -> Result<Option<i64>> {
        match v {
            None => Ok(None),
            Some(s) => Timestamp::parse_rfc3339(s)
                .map(|t| Some(t.0))
                .ok_or_else(|| bad_consent(format!("`{name}` must be an RFC 3339 time"))),
        }
    };
    if let Some(c) = &evidence.captured_at {
        Timestamp::parse_rfc3339(c)
            .ok_or_else(|| bad_consent("`evidence.captured_at` must be an RFC 3339 time"))?;
    }
    Ok(NewConsent {
        purpose: Purpose::parse(&b.purpose).map_err(bad_consent)?,
        channel: match &b.channel {
            Some(c) => ChannelScope::parse(c).map_err(bad_consent)?,
            None => ChannelScope::all(),
        },
        status,
        legal_basis,
        notice_version: b.notice_version,
        evidence,
        effective_at: time("effective_at", &b.effective_at)?,
        expires_at: time("expires_at", &b.expires_at)?,
        source: "api".into(),
    })
}

async fn record_consent(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<String>,
    body: axum::body::Body,
) -> Result<(axum::http::StatusCode, Json<ConsentRecord>)> {
    let id = customer_id(&id)?;
    let body = read_body(body, 64 * 1024).await?;
    let consent = parse_consent(&body)?;
    let record = s.store.record_consent(id, consent).await?;
    Ok((axum::http::StatusCode::CREATED, Json(record)))
}

async fn export(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Json<ExportDocument>> {
    s.store
        .export(customer_id(&id)?)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}

async fn erase(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Json<ErasureReceipt>> {
    s.store
        .erase(customer_id(&id)?)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}

fn merge_id(raw: &str) -> Result<MergeId> {
    raw.parse().map_err(|_| {
        Failure::new(
            ErrorCode::MergeNotFound,
            format!("{raw:?} is not a merge id"),
        )
    })
}

async fn merge(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Json<MergeView>> {
    s.store
        .merge_log(merge_id(&id)?)
        .await?
        .map(Json)
        .ok_or_else(|| Failure::new(ErrorCode::MergeNotFound, "no merge has this id"))
}

async fn undo(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Json<MergeView>> {
    Ok(Json(s.store.undo_merge(merge_id(&id)?).await?))
}

#[derive(Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

async fn erasures(
    _: Admin,
    State(s): State<SharedState>,
    Query(q): Query<LimitQuery>,
) -> Result<Json<Vec<concierge_types::view::ErasureRecord>>> {
    Ok(Json(
        s.store
            .erasures(q.limit.unwrap_or(100).clamp(1, 1000))
            .await?,
    ))
}

async fn stats(
    _: Admin,
    State(s): State<SharedState>,
) -> Result<Json<concierge_store::StoreStats>> {
    Ok(Json(s.store.stats().await?))
}
