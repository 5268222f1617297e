//! API keys: the write keys of the tracking API and the admin keys of the REST API.

use crate::error::Failure;
use crate::SharedState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use concierge_store::Store;
use concierge_types::{ApiKey, ErrorCode, KeyScope};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Remembers recent key look-ups so that each request does not cost a database read. A revoked key
/// stops working within `TTL`.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (Option<ApiKey>, Instant)>>,
}

const TTL: Duration = Duration::from_secs(30);
const MAX_SECRET_LEN: usize = 200;
const MAX_ENTRIES: usize = 10_000;

impl KeyCache {
    pub async fn authenticate(&self, store: &dyn Store, secret: &str) -> Result<ApiKey, Failure> {
        // Our keys are ~60 bytes; anything much longer is not one and must not fill the cache.
        if secret.len() > MAX_SECRET_LEN {
            return Err(Failure::new(
                ErrorCode::InvalidApiKey,
                "the API key is not valid",
            ));
        }
        let cached = self.entries.lock().ok().and_then(|e| {
            e.get(secret)
                .filter(|(_, at)| at.elapsed() < TTL)
                .map(|(k, _)| k.clone())
        });
        let key = match cached {
            Some(k) => k,
            None => {
                let k = store.authenticate(secret).await?;
                if let Ok(mut e) = self.entries.lock() {
                    if e.len() >= MAX_ENTRIES {
                        e.clear();
                    }
                    e.insert(secret.to_string(), (k.clone(), Instant::now()));
                }
                k
            }
        };
        key.ok_or_else(|| Failure::new(ErrorCode::InvalidApiKey, "the API key is not valid"))
    }
}

/// A request made with an admin key (`Authorization: Bearer KEY`).
pub struct Admin(pub ApiKey);

impl FromRequestParts<SharedState> for Admin {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Failure> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Failure::new(
                    ErrorCode::MissingAuthorization,
                    "send an admin key as `Authorization: Bearer KEY`",
                )
            })?;
        let key = state.keys.authenticate(state.store.as_ref(), token).await?;
        if key.scope != KeyScope::Admin {
            return Err(Failure::new(
                ErrorCode::InsufficientScope,
                "this key may only send events; the REST API needs an admin key",
            ));
        }
        Ok(Admin(key))
    }
}
