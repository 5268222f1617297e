//! Turning errors into answers: always the JSON shape of [`ApiError`], causes logged not leaked.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use concierge_store::StoreError;
use concierge_types::{ApiError, ErrorCode};

/// An error answer.
#[derive(Debug)]
pub struct Failure(pub ApiError);

impl Failure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Failure(ApiError::new(code, message))
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let (code, message) = match &e {
            StoreError::Overloaded => (
                ErrorCode::Overloaded,
                "too many events are waiting to be written; retry after a moment".to_string(),
            ),
            StoreError::CustomerNotFound => (
                ErrorCode::CustomerNotFound,
                "no customer has this id".to_string(),
            ),
            StoreError::MergeNotFound => {
                (ErrorCode::MergeNotFound, "no merge has this id".to_string())
            }
            StoreError::MergeAlreadyUndone => (
                ErrorCode::MergeAlreadyUndone,
                "this merge was already undone".to_string(),
            ),
            StoreError::MergeNotUndoable(why) => (
                ErrorCode::MergeNotUndoable,
                format!("this merge cannot be undone: {why}"),
            ),
            StoreError::Duplicate(what) => {
                (ErrorCode::EmailTaken, format!("{what} already exists"))
            }
            StoreError::Backend(cause) => {
                tracing::error!(%cause, "storage failure");
                (
                    ErrorCode::Internal,
                    "the request could not be stored; nothing was kept, retry later".to_string(),
                )
            }
        };
        Failure(ApiError::new(code, message))
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = self.0.code == ErrorCode::Overloaded;
        let mut response = (status, axum::Json(self.0)).into_response();
        if retry {
            // The Segment clients honour Retry-After and keep buffering on 429.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

pub type Result<T, E = Failure> = std::result::Result<T, E>;
