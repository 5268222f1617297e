mod bot;
mod channels;
mod conversations;
mod customers;
mod hooks;
pub(crate) mod media;
mod stores;
mod tracking;
mod webchat;
mod workspace;

pub use channels::validate_channel;

use crate::error::Failure;
use crate::SharedState;
use axum::routing::get;
use axum::Router;
use concierge_types::ErrorCode;

pub fn router(state: SharedState) -> Router {
    Router::new()
        .merge(tracking::routes())
        .merge(customers::routes())
        .merge(channels::routes())
        .merge(conversations::routes())
        .merge(stores::routes())
        .merge(hooks::routes())
        .merge(webchat::routes())
        .merge(bot::routes())
        .merge(workspace::routes())
        .merge(media::routes())
        .route(
            "/healthz",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .fallback(|| async { Failure::new(ErrorCode::NotFound, "no such route") })
        .method_not_allowed_fallback(|| async {
            Failure::new(
                ErrorCode::MethodNotAllowed,
                "this route does not accept that method",
            )
        })
        .with_state(state)
}

/// axum's `Query`, answering a malformed query string in our error shape instead of plain text.
pub(crate) struct Query<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S>
    for Query<T>
{
    type Rejection = Failure;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Failure> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(t)| Query(t))
            .map_err(|e| Failure::new(ErrorCode::InvalidRequest, e.body_text()))
    }
}

/// axum's `Path`, answering an undecodable segment (e.g. `%FF`) in our error shape.
pub(crate) struct Path<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> axum::extract::FromRequestParts<S>
    for Path<T>
{
    type Rejection = Failure;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Failure> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(t)| Path(t))
            .map_err(|e| Failure::new(ErrorCode::InvalidRequest, e.body_text()))
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for a path segment or a
/// query value.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where clients reach us, as `(protocol, host)`: the configured public URL, else the request's
/// `Host` (and `X-Forwarded-Proto` from a proxy).
pub(crate) fn public_base(
    state: &crate::AppState,
    headers: &axum::http::HeaderMap,
) -> (String, String) {
    match &state.config.public_url {
        Some(url) => match url.split_once("://") {
            Some((p, h)) => (p.to_string(), h.trim_end_matches('/').to_string()),
            None => ("https".to_string(), url.trim_end_matches('/').to_string()),
        },
        None => {
            let host = headers
                .get(axum::http::header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("localhost")
                .to_string();
            let proto = headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("http")
                .to_string();
            (proto, host)
        }
    }
}

/// Lets browsers on any origin call a route (the tracking API, the web chat): what authenticates
/// them (a public write key, a visitor id) is not a cookie, so there is nothing to protect.
pub(crate) fn allow_any_origin(
    mut response: axum::response::Response,
    headers: &'static str,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(headers),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

/// Answers a CORS preflight.
pub(crate) async fn preflight() -> axum::http::StatusCode {
    axum::http::StatusCode::NO_CONTENT
}

/// Reads a request body up to `limit` bytes.
pub(crate) async fn read_body(
    body: axum::body::Body,
    limit: usize,
) -> Result<axum::body::Bytes, Failure> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        Failure::new(
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than {limit} bytes"),
        )
    })
}
