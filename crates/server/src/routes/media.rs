//! Files agents send: kept in the store, and served at `/media/{id}/{name}` for the providers
//! (and the web chat) to fetch.
//!
//! The address is the only key: its id is 128 random bits, so it is unguessable, and it is gone
//! when the conversation's customer is erased. Files kept with private notes are not served
//! here, only in the workspace (`/app/files/…`, behind the session and what the person may see). What is served can never run in a browser: the
//! type is the one checked at upload (`concierge_channels::media`), `nosniff` forbids guessing
//! another, a sandboxing Content-Security-Policy covers it, and anything but a picture, audio or
//! video is a download.

use super::Path;
use crate::error::Failure;
use crate::SharedState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use concierge_channels::media::{check_upload, Checked};
use concierge_store::{Attachment, NewAttachment};
use concierge_types::ErrorCode;
use sha2::{Digest, Sha256};

pub fn routes() -> Router<SharedState> {
    Router::new().route("/media/{id}/{name}", get(serve))
}

/// An upload checked and ready to keep: what it is, and its row.
pub(crate) struct Upload {
    pub checked: Checked,
    pub row: NewAttachment,
}

/// Checks an upload (type from its bytes, matching name, size) and gives it a fresh id.
pub(crate) fn accept(name: &str, data: Vec<u8>) -> Result<Upload, Failure> {
    let checked = check_upload(name, &data).map_err(|e| {
        let code = if data.len() > concierge_channels::media::MAX_UPLOAD_BYTES {
            ErrorCode::PayloadTooLarge
        } else {
            ErrorCode::InvalidAttachment
        };
        Failure::new(code, e)
    })?;
    // 128 bits are plenty for an unguessable address.
    let id = crate::session::random_token()?[..32].to_string();
    let sha256 = Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Upload {
        row: NewAttachment {
            id,
            filename: checked.filename.clone(),
            mime_type: checked.mime_type.to_string(),
            sha256,
            data,
        },
        checked,
    })
}

/// The path a kept file is served at: `/media/{id}/{name}`, the name percent-encoded.
pub(crate) fn path(id: &str, filename: &str) -> String {
    format!("/media/{id}/{}", super::percent_encode(filename))
}

/// The workspace's path to a kept file, behind the session: `/app/files/{id}/{name}`.
pub(crate) fn workspace_path(id: &str, filename: &str) -> String {
    format!("/app/files/{id}/{}", super::percent_encode(filename))
}

/// Whether `id` has the shape of a kept file's id (32 lower-case hex digits).
pub(crate) fn is_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// At most this many files are read from the store at once: a loop on one address can't take
/// the connections (and memory) the rest of the service needs.
static READS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// The kept file with this id, or not found.
pub(crate) async fn load(s: &SharedState, id: String) -> Result<Attachment, Failure> {
    let gone = || Failure::new(ErrorCode::AttachmentNotFound, "no such file");
    if !is_id(&id) {
        return Err(gone());
    }
    let _permit = READS
        .acquire()
        .await
        .map_err(|_| Failure::new(ErrorCode::Overloaded, "shutting down"))?;
    s.store.attachment(id).await?.ok_or_else(gone)
}

/// For providers and the web chat. A file kept with a private note is not served here.
async fn serve(
    State(s): State<SharedState>,
    Path((id, _name)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let file = load(&s, id).await?;
    if file.private {
        return Err(Failure::new(ErrorCode::AttachmentNotFound, "no such file"));
    }
    Ok(respond(file, &method, &headers))
}

/// What a `Range` header asks of a representation of `len` bytes (RFC 9110 §14).
#[derive(Debug, PartialEq, Eq)]
enum Ranged {
    /// No usable range (none, another unit, several ranges, bad syntax): the whole file.
    Whole,
    /// Bytes `start..=end`.
    Part { start: usize, end: usize },
    /// A well-formed range that lies outside the file: 416.
    Unsatisfiable,
}

/// One range of bytes (`first-last`, `first-` or `-suffix`). Several ranges would need a
/// multipart answer, which players don't ask for; they get the whole file, as the RFC allows.
fn byte_range(value: &str, len: usize) -> Ranged {
    // The unit is case-insensitive.
    let Some(spec) = value
        .trim()
        .split_once('=')
        .filter(|(unit, _)| unit.trim().eq_ignore_ascii_case("bytes"))
        .map(|(_, spec)| spec)
    else {
        return Ranged::Whole;
    };
    if spec.contains(',') {
        return Ranged::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ranged::Whole;
    };
    let number = |s: &str| -> Option<usize> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().unwrap_or(usize::MAX))
    };
    match (number(first), number(last), last.trim().is_empty()) {
        // The last `n` bytes.
        (None, Some(n), _) if first.trim().is_empty() => match (n, len) {
            (0, _) | (_, 0) => Ranged::Unsatisfiable,
            (n, len) => Ranged::Part {
                start: len - n.min(len),
                end: len - 1,
            },
        },
        (Some(start), None, true) if start < len => Ranged::Part {
            start,
            end: len - 1,
        },
        (Some(start), Some(end), _) if start <= end && start < len => Ranged::Part {
            start,
            end: end.min(len - 1),
        },
        (Some(start), Some(end), _) if start <= end => Ranged::Unsatisfiable,
        (Some(_), None, true) => Ranged::Unsatisfiable,
        _ => Ranged::Whole,
    }
}

/// The file with its checked type, never to be run by a browser: `nosniff`, a sandboxing CSP, a
/// download unless it is a picture, audio or video. Its SHA-256 is its `ETag`. A single byte
/// range is answered with 206, so players can seek in audio and video (Safari won't play a video
/// without it). `Range` only counts for GET: a HEAD answer describes the whole file.
pub(crate) fn respond(file: Attachment, method: &Method, headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", file.sha256);
    let len = file.data.len();
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let cached =
        header_text(header::IF_NONE_MATCH).is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    // `If-Range` with another version (or a date, which we don't keep): the whole file.
    let range = match (header_text(header::RANGE), header_text(header::IF_RANGE)) {
        _ if method != Method::GET => Ranged::Whole,
        (Some(r), None) => byte_range(r, len),
        (Some(r), Some(v)) if v.trim() == etag => byte_range(r, len),
        _ => Ranged::Whole,
    };
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match range {
            Ranged::Whole => (StatusCode::OK, file.data).into_response(),
            Ranged::Part { start, end } => {
                let data = axum::body::Bytes::from(file.data).slice(start..=end);
                let mut r = (StatusCode::PARTIAL_CONTENT, data).into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                r
            }
            Ranged::Unsatisfiable => {
                let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                r
            }
        }
    };
    let inline = ["image/", "audio/", "video/"]
        .iter()
        .any(|p| file.mime_type.starts_with(p));
    let ascii: String = file
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "{}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        super::percent_encode(&file.filename)
    );
    let kind = if file.mime_type.starts_with("text/") {
        format!("{}; charset=utf-8", file.mime_type)
    } else {
        file.mime_type.clone()
    };
    let h = response.headers_mut();
    let value =
        |v: &str| HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("attachment"));
    h.insert(header::CONTENT_TYPE, value(&kind));
    h.insert(header::CONTENT_DISPOSITION, value(&disposition));
    h.insert(header::ETAG, value(&etag));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_encode_the_name() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            path(id, "nota fiscal/ç.pdf"),
            format!("/media/{id}/nota%20fiscal%2F%C3%A7.pdf")
        );
        assert!(is_id(id));
        assert!(!is_id("0123456789ABCDEF0123456789abcdef"));
        assert!(!is_id("../../etc/passwd"));
    }

    #[test]
    fn byte_ranges() {
        use Ranged::*;
        let part = |start, end| Part { start, end };
        for (value, len, want) in [
            ("bytes=0-99", 1000, part(0, 99)),
            ("bytes=100-", 1000, part(100, 999)),
            ("bytes=-100", 1000, part(900, 999)),
            ("bytes=-5000", 1000, part(0, 999)),
            ("bytes=900-5000", 1000, part(900, 999)),
            ("bytes=999-999", 1000, part(999, 999)),
            (" bytes= 1 - 2 ", 1000, part(1, 2)),
            ("Bytes=0-0", 1000, part(0, 0)),
            ("bytes=1000-", 1000, Unsatisfiable),
            ("bytes=1000-2000", 1000, Unsatisfiable),
            ("bytes=-0", 1000, Unsatisfiable),
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=99999999999999999999999-", 1000, Unsatisfiable),
            ("bytes=5-1", 1000, Whole),
            ("bytes=0-1,5-6", 1000, Whole),
            ("items=0-1", 1000, Whole),
            ("bytes=a-b", 1000, Whole),
            ("bytes=-", 1000, Whole),
            ("bytes=+1-2", 1000, Whole),
            ("bytes=1", 1000, Whole),
        ] {
            assert_eq!(byte_range(value, len), want, "{value:?} of {len}");
        }
    }
}
