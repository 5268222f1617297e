//! The Segment tracking API as its official clients speak it, turned into [`NewEvent`]s.
//!
//! Pure functions, no I/O: the server hands in the raw body and headers, gets back events and the
//! per-item rejections. See `shared/reference/segment-api.md` §8 for the checklist this follows.
//!
//! - [`Call`]: which route was hit (`/v1/track`, `/v1/t`, `/v1/batch`, `/v1/b` …).
//! - [`decode_body`]: gzip with a limit on the *decompressed* size.
//! - [`write_key_from_authorization`]: Basic `key:`, Basic `key`, and (with the key in the body) Bearer.
//! - [`parse`]: JSON (sent as `application/json` or `text/plain`), batch envelope merged into items.
//! - [`to_events`]: per-item validation, the clock-skew formula, identifiers, traits, consent.

mod consent;
mod message;

pub use message::{to_event, to_events, IngestContext};

use base64::Engine;
use concierge_types::{ApiError, ErrorCode};
use serde_json::{Map, Value};
use std::io::Read;

/// Size and count limits (Segment's documented ones by default).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Body of a single call (`/v1/track` …), after decompression.
    pub max_call_bytes: usize,
    /// Body of a batch, after decompression.
    pub max_batch_bytes: usize,
    /// One event inside a batch.
    pub max_event_bytes: usize,
    pub max_batch_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_call_bytes: 32 * 1024,
            max_batch_bytes: 500 * 1024,
            max_event_bytes: 32 * 1024,
            max_batch_events: 2500,
        }
    }
}

/// Most bytes the batch envelope may add across all items once copied into each.
const MAX_EXPANDED_BYTES: usize = 8 << 20;

/// The route a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Single(concierge_types::EventKind),
    Batch,
}

impl Call {
    /// Maps the last path segment: full names, analytics.js short aliases, and RudderStack's `import`.
    pub fn from_segment(s: &str) -> Option<Call> {
        use concierge_types::EventKind::*;
        Some(match s {
            "identify" | "i" => Call::Single(Identify),
            "track" | "t" => Call::Single(Track),
            "page" | "p" => Call::Single(Page),
            "screen" | "s" => Call::Single(Screen),
            "group" | "g" => Call::Single(Group),
            "alias" | "a" => Call::Single(Alias),
            "batch" | "b" | "import" => Call::Batch,
            _ => return None,
        })
    }

    pub fn max_bytes(self, limits: &Limits) -> usize {
        match self {
            Call::Single(_) => limits.max_call_bytes,
            Call::Batch => limits.max_batch_bytes,
        }
    }
}

/// Undoes `Content-Encoding` and enforces `limit` on the decoded size (a small gzip body can
/// expand enormously).
pub fn decode_body(
    content_encoding: Option<&str>,
    body: &[u8],
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than {limit} bytes"),
        )
    };
    match content_encoding.map(|e| e.trim().to_ascii_lowercase()) {
        None => {}
        Some(e) if e.is_empty() || e == "identity" => {}
        Some(e) if e == "gzip" || e == "x-gzip" => {
            let mut out = Vec::with_capacity(body.len() * 4);
            let mut decoder = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
            decoder.read_to_end(&mut out).map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidContentEncoding,
                    format!("the body is not valid gzip: {e}"),
                )
            })?;
            if out.len() > limit {
                return Err(too_large());
            }
            return Ok(out);
        }
        Some(e) => {
            return Err(ApiError::new(
                ErrorCode::InvalidContentEncoding,
                format!("content encoding {e:?} is not supported (use gzip)"),
            ));
        }
    }
    if body.len() > limit {
        return Err(too_large());
    }
    Ok(body.to_vec())
}

/// The write key of an `Authorization` header: Basic with `key:` or just `key` (older clients), or
/// `None` for Bearer (then the key must be in the body) and anything else.
pub fn write_key_from_authorization(header: Option<&str>) -> Option<String> {
    let header = header?.trim();
    let (scheme, rest) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let key = text.split_once(':').map(|(k, _)| k).unwrap_or(&text);
    (!key.is_empty()).then(|| key.to_string())
}

/// A parsed request: the write key found in the body, and each message with the batch envelope
/// (`context`, `integrations`, `sentAt`) merged in.
#[derive(Debug, Clone)]
pub struct Request {
    pub write_key: Option<String>,
    pub messages: Vec<Value>,
}

/// Parses the body of `call`.
pub fn parse(call: Call, body: &[u8], limits: &Limits) -> Result<Request, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidJson,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(mut root) = value else {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            "the body must be a JSON object",
        ));
    };
    let write_key = root
        .get("writeKey")
        .and_then(Value::as_str)
        .map(str::to_string);
    match call {
        Call::Single(kind) => {
            root.remove("writeKey");
            if !root.contains_key("type") {
                root.insert("type".into(), Value::String(kind.as_str().into()));
            }
            Ok(Request {
                write_key,
                messages: vec![Value::Object(root)],
            })
        }
        Call::Batch => {
            let batch = match root.remove("batch") {
                Some(Value::Array(items)) => items,
                Some(_) => {
                    return Err(ApiError::new(
                        ErrorCode::InvalidRequest,
                        "`batch` must be an array of messages",
                    ))
                }
                None => {
                    return Err(ApiError::new(
                        ErrorCode::EmptyBatch,
                        "the body has no `batch` array",
                    ))
                }
            };
            if batch.is_empty() {
                return Err(ApiError::new(ErrorCode::EmptyBatch, "the batch is empty"));
            }
            if batch.len() > limits.max_batch_events {
                return Err(ApiError::new(
                    ErrorCode::BatchTooLarge,
                    format!(
                        "a batch may hold at most {} events; this one holds {}",
                        limits.max_batch_events,
                        batch.len()
                    ),
                ));
            }
            let context = root.get("context").and_then(Value::as_object).cloned();
            let integrations = root.get("integrations").and_then(Value::as_object).cloned();
            // The envelope is copied into every item: a small body must not expand into gigabytes.
            let shared = context
                .as_ref()
                .map_or(0, |c| Value::Object(c.clone()).to_string().len())
                + integrations
                    .as_ref()
                    .map_or(0, |c| Value::Object(c.clone()).to_string().len());
            if shared > limits.max_event_bytes
                || shared.saturating_mul(batch.len()) > MAX_EXPANDED_BYTES
            {
                return Err(ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("the batch's shared context and integrations ({shared} bytes) are too large to copy into {} events", batch.len()),
                ));
            }
            let sent_at = root.get("sentAt").cloned();
            let messages = batch
                .into_iter()
                .map(|item| match item {
                    Value::Object(mut m) => {
                        merge_into(&mut m, "context", context.as_ref());
                        merge_into(&mut m, "integrations", integrations.as_ref());
                        if let (Some(s), false) = (&sent_at, m.contains_key("sentAt")) {
                            m.insert("sentAt".into(), s.clone());
                        }
                        Value::Object(m)
                    }
                    other => other,
                })
                .collect();
            Ok(Request {
                write_key,
                messages,
            })
        }
    }
}

/// Fills `key` of `item` from the envelope's object; the item's own fields win.
fn merge_into(item: &mut Map<String, Value>, key: &str, envelope: Option<&Map<String, Value>>) {
    let Some(envelope) = envelope else { return };
    match item.get_mut(key) {
        Some(Value::Object(own)) => {
            for (k, v) in envelope {
                own.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        _ => {
            item.insert(key.into(), Value::Object(envelope.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn basic_auth_with_and_without_colon() {
        let b64 = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        assert_eq!(
            write_key_from_authorization(Some(&b64("abc123:"))),
            Some("abc123".into())
        );
        assert_eq!(
            write_key_from_authorization(Some(&b64("abc123"))),
            Some("abc123".into())
        );
        assert_eq!(write_key_from_authorization(Some("Bearer tok")), None);
        assert_eq!(write_key_from_authorization(Some("Basic !!!")), None);
        assert_eq!(write_key_from_authorization(Some(&b64(":"))), None);
    }

    #[test]
    fn gzip_is_decoded_and_bombs_are_stopped() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&vec![b'a'; 100_000]).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(
            decode_body(Some("gzip"), &gz, 200_000).unwrap().len(),
            100_000
        );
        assert_eq!(
            decode_body(Some("gzip"), &gz, 1000).unwrap_err().code,
            ErrorCode::PayloadTooLarge
        );
        assert_eq!(
            decode_body(Some("gzip"), b"not gzip", 1000)
                .unwrap_err()
                .code,
            ErrorCode::InvalidContentEncoding
        );
        assert_eq!(
            decode_body(Some("br"), b"x", 1000).unwrap_err().code,
            ErrorCode::InvalidContentEncoding
        );
    }

    #[test]
    fn batch_envelope_is_merged_into_items() {
        let body = br#"{"writeKey":"k","sentAt":"2024-01-01T00:00:10Z","context":{"library":{"name":"x"},"ip":"1.2.3.4"},
            "batch":[{"type":"track","event":"A","userId":"u","context":{"ip":"5.6.7.8"}}]}"#;
        let r = parse(Call::Batch, body, &Limits::default()).unwrap();
        assert_eq!(r.write_key.as_deref(), Some("k"));
        let m = &r.messages[0];
        assert_eq!(m["context"]["ip"], "5.6.7.8");
        assert_eq!(m["context"]["library"]["name"], "x");
        assert_eq!(m["sentAt"], "2024-01-01T00:00:10Z");
    }

    #[test]
    fn bad_bodies_get_clear_codes() {
        let l = Limits::default();
        assert_eq!(
            parse(Call::Batch, b"{", &l).unwrap_err().code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            parse(Call::Batch, b"[1]", &l).unwrap_err().code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            parse(Call::Batch, br#"{"batch":[]}"#, &l).unwrap_err().code,
            ErrorCode::EmptyBatch
        );
        let big = format!(r#"{{"batch":[{}]}}"#, vec!["{}"; 2501].join(","));
        assert_eq!(
            parse(Call::Batch, big.as_bytes(), &l).unwrap_err().code,
            ErrorCode::BatchTooLarge
        );
    }
}
