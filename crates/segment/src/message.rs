//! One Segment message → one [`NewEvent`], or the reason it was rejected.

use crate::consent::extract_consent;
use crate::{Limits, Request};
use concierge_types::error::ItemError;
use concierge_types::view::Timestamp;
use concierge_types::{
    ApiError, ErrorCode, EventKind, Identifier, IdentifierKind, Millis, NewEvent,
};
use serde_json::{Map, Value};

/// What the server knows about the request the messages came in.
#[derive(Debug, Clone)]
pub struct IngestContext<'a> {
    /// Name of the write key: the provenance of the events' identifiers and traits.
    pub source: &'a str,
    pub received_at: Millis,
    /// Region for phone numbers written without a country code, unless the event's locale says otherwise.
    pub default_region: &'a str,
    pub limits: Limits,
}

const MAX_MESSAGE_ID: usize = 100;
/// How far past its arrival an event's corrected time may lie.
const MAX_FUTURE_MS: Millis = 24 * 3600 * 1000;
const MAX_TRAITS: usize = 500;
const MAX_TRAIT_KEY: usize = 256;

/// Trait keys (on identify `traits`, `context.traits`) that carry identifiers.
const TRAIT_IDENTIFIERS: &[(&str, IdentifierKind)] = &[
    ("email", IdentifierKind::Email),
    ("phone", IdentifierKind::Phone),
    ("mobile", IdentifierKind::Phone),
    ("whatsapp", IdentifierKind::WhatsappId),
    ("whatsapp_id", IdentifierKind::WhatsappId),
    ("instagram_id", IdentifierKind::InstagramId),
    ("messenger_id", IdentifierKind::MessengerId),
    ("telegram_id", IdentifierKind::TelegramId),
    ("viber_id", IdentifierKind::ViberId),
    ("tiktok_id", IdentifierKind::TiktokId),
    ("loyalty_id", IdentifierKind::LoyaltyId),
];

/// Validates every message of `request`; returns the accepted events and the rejected items.
pub fn to_events(request: Request, ctx: &IngestContext) -> (Vec<NewEvent>, Vec<ItemError>) {
    let mut events = Vec::with_capacity(request.messages.len());
    let mut rejected = Vec::new();
    for (index, message) in request.messages.into_iter().enumerate() {
        match to_event(message, ctx) {
            Ok(ev) => events.push(ev),
            Err(e) => rejected.push(ItemError {
                index,
                code: e.code,
                message: e.message,
            }),
        }
    }
    (events, rejected)
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidEvent, msg)
}

/// A string id field; numbers are accepted too (some clients send numeric user ids).
fn id_field(m: &Map<String, Value>, key: &str) -> Option<String> {
    match m.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn time_field(m: &Map<String, Value>, key: &str) -> Result<Option<Millis>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Timestamp::parse_rfc3339(s)
            .map(|t| Some(t.0))
            .ok_or_else(|| invalid(format!("`{key}` is not an ISO-8601 time: {s:?}"))),
        Some(_) => Err(invalid(format!("`{key}` must be an ISO-8601 string"))),
    }
}

/// Validates and converts one message.
pub fn to_event(message: Value, ctx: &IngestContext) -> Result<NewEvent, ApiError> {
    let Value::Object(mut m) = message else {
        return Err(invalid("each message must be a JSON object"));
    };
    let kind_name = m
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("`type` is required"))?;
    let kind = EventKind::parse(kind_name).ok_or_else(|| {
        invalid(format!(
            "`type` {kind_name:?} is not one of identify, track, page, screen, group, alias"
        ))
    })?;

    let user_id = id_field(&m, "userId");
    let anonymous_id = id_field(&m, "anonymousId");
    if user_id.is_none() && anonymous_id.is_none() {
        return Err(ApiError::new(
            ErrorCode::MissingUserOrAnonymousId,
            "either `userId` or `anonymousId` is required",
        ));
    }
    let name = match kind {
        EventKind::Track => {
            let e = m
                .get("event")
                .and_then(Value::as_str)
                .map(str::trim)
                .unwrap_or("");
            if e.is_empty() {
                return Err(invalid("`event` is required for track calls"));
            }
            Some(e.to_string())
        }
        EventKind::Page | EventKind::Screen => {
            m.get("name").and_then(Value::as_str).map(str::to_string)
        }
        _ => None,
    };
    if kind == EventKind::Alias && (id_field(&m, "previousId").is_none() || user_id.is_none()) {
        return Err(invalid("alias calls need both `previousId` and `userId`"));
    }
    if kind == EventKind::Group && id_field(&m, "groupId").is_none() {
        return Err(invalid("`groupId` is required for group calls"));
    }
    let message_id = match m.get("messageId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() < MAX_MESSAGE_ID && !s.is_empty() => Some(s.clone()),
        Some(Value::String(_)) => {
            return Err(invalid(format!(
                "`messageId` must have 1 to {} characters",
                MAX_MESSAGE_ID - 1
            )))
        }
        Some(_) => return Err(invalid("`messageId` must be a string")),
    };

    // Timestamps: keep what the client sent, add receivedAt, correct for the device's clock skew.
    let original = match time_field(&m, "originalTimestamp")? {
        Some(t) => Some(t),
        None => time_field(&m, "timestamp")?,
    };
    let sent_at = time_field(&m, "sentAt")?;
    let received_at = match time_field(&m, "receivedAt")? {
        // An import of historical data carries its own receivedAt; live calls never do.
        Some(t) if ctx.source.starts_with("import:") => t,
        _ => ctx.received_at,
    };
    let ts = match (original, sent_at) {
        (Some(o), Some(s)) => received_at.saturating_sub(s.saturating_sub(o)),
        (Some(o), None) => o,
        _ => received_at,
    };
    // A wrong or spoofed clock must not put an event (and the traits it sets) far in the future:
    // a trait dated 9999 would never be updated again.
    let ts = ts.min(received_at + MAX_FUTURE_MS);
    let stamp = |t: Millis| Value::String(Timestamp(t).to_rfc3339());
    if let Some(o) = original {
        m.entry("originalTimestamp").or_insert_with(|| stamp(o));
    }
    m.insert("receivedAt".into(), stamp(received_at));
    m.insert("timestamp".into(), stamp(ts));

    let message_id = match message_id {
        Some(id) => id,
        None => {
            let id = generated_id();
            m.insert("messageId".into(), Value::String(id.clone()));
            id
        }
    };

    let context = m.get("context").and_then(Value::as_object);
    let region = context
        .and_then(|c| c.get("locale"))
        .and_then(Value::as_str)
        .and_then(|l| l.rsplit(['-', '_']).next())
        .filter(|r| r.len() == 2 && concierge_types::normalize::is_known_region(r))
        .unwrap_or(ctx.default_region)
        .to_ascii_uppercase();
    let channel = channel_of(context);

    let mut identifiers = Vec::new();
    let mut push = |kind: IdentifierKind, raw: &str| {
        if let Ok(id) = Identifier::parse(kind, raw, &region) {
            if !identifiers.contains(&id) {
                identifiers.push(id);
            }
        }
    };
    if let Some(u) = &user_id {
        push(IdentifierKind::UserId, u);
    }
    if let Some(a) = &anonymous_id {
        push(IdentifierKind::AnonymousId, a);
    }
    if kind == EventKind::Alias {
        // analytics.js and the mobile libraries alias the anonymous id to the new user id.
        if let Some(p) = id_field(&m, "previousId") {
            push(IdentifierKind::AnonymousId, &p);
        }
    }
    let traits_obj = match kind {
        EventKind::Identify => m.get("traits").and_then(Value::as_object),
        _ => None,
    };
    for source in [
        traits_obj,
        context
            .and_then(|c| c.get("traits"))
            .and_then(Value::as_object),
    ]
    .into_iter()
    .flatten()
    {
        for (key, kind) in TRAIT_IDENTIFIERS {
            if let Some(v) = source.get(*key) {
                match v {
                    Value::String(s) => push(*kind, s),
                    Value::Number(n) => push(*kind, &n.to_string()),
                    _ => {}
                }
            }
        }
    }
    if let Some(ext) = context
        .and_then(|c| c.get("externalIds"))
        .and_then(Value::as_array)
    {
        for e in ext {
            let (Some(t), Some(id)) = (e.get("type").and_then(Value::as_str), e.get("id")) else {
                continue;
            };
            let t = t.to_ascii_lowercase().replace(['-', ' '], "_");
            let kind = match t.as_str() {
                "email" => Some(IdentifierKind::Email),
                "phone" | "phone_number" => Some(IdentifierKind::Phone),
                "user_id" | "userid" => Some(IdentifierKind::UserId),
                other => IdentifierKind::parse(other).filter(|k| *k != IdentifierKind::AnonymousId),
            };
            let raw = match id {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            if let Some(kind) = kind {
                push(kind, &raw);
            }
        }
    }

    let mut traits = Vec::new();
    if let Some(obj) = traits_obj {
        if obj.len() > MAX_TRAITS {
            return Err(invalid(format!(
                "at most {MAX_TRAITS} traits per identify call"
            )));
        }
        for (k, v) in obj {
            if k.len() > MAX_TRAIT_KEY {
                return Err(invalid(format!(
                    "trait names may have at most {MAX_TRAIT_KEY} bytes"
                )));
            }
            traits.push((k.clone(), v.clone()));
        }
    }

    let (consents, snapshot) = extract_consent(&m, &channel, &message_id);
    let body = Value::Object(m).to_string();
    if body.len() > ctx.limits.max_event_bytes {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "an event may have at most {} bytes; this one has {}",
                ctx.limits.max_event_bytes,
                body.len()
            ),
        ));
    }
    Ok(NewEvent {
        dedup_key: format!("seg:{message_id}"),
        kind,
        name,
        channel,
        source: ctx.source.to_string(),
        ts,
        received_at,
        identifiers,
        traits,
        consents,
        consent_snapshot: snapshot,
        body,
    })
}

/// `context.channel` when it is one of Segment's values, else guessed from the library name.
fn channel_of(context: Option<&Map<String, Value>>) -> String {
    if let Some(c) = context
        .and_then(|c| c.get("channel"))
        .and_then(Value::as_str)
    {
        if matches!(c, "server" | "browser" | "mobile") {
            return c.to_string();
        }
    }
    let library = context
        .and_then(|c| c.get("library"))
        .and_then(|l| l.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    if library.contains("analytics.js")
        || library.contains("analytics-next")
        || library.contains("browser")
    {
        "browser".into()
    } else if [
        "ios",
        "android",
        "kotlin",
        "swift",
        "react-native",
        "flutter",
    ]
    .iter()
    .any(|m| library.contains(m))
    {
        "mobile".into()
    } else {
        "server".into()
    }
}

/// A message id for messages that came without one (they cannot be deduplicated).
fn generated_id() -> String {
    let mut b = [0u8; 12];
    let _ = getrandom::fill(&mut b);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("cx-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> IngestContext<'static> {
        IngestContext {
            source: "web",
            received_at: 1_700_000_100_000,
            default_region: "BR",
            limits: Limits::default(),
        }
    }

    #[test]
    fn clock_skew_is_corrected_and_all_four_times_kept() {
        // Device clock 1 h fast: original and sentAt both read one hour ahead.
        let m = json!({"type":"track","event":"X","userId":"u","messageId":"m1",
            "timestamp":"2023-11-14T23:28:10Z","sentAt":"2023-11-14T23:28:20Z"});
        let ev = to_event(m, &ctx()).unwrap();
        assert_eq!(ev.ts, 1_700_000_100_000 - 10_000);
        let body: Value = serde_json::from_str(&ev.body).unwrap();
        assert_eq!(body["originalTimestamp"], "2023-11-14T23:28:10.000Z");
        assert_eq!(body["sentAt"], "2023-11-14T23:28:20Z");
        assert!(body["receivedAt"].is_string() && body["timestamp"].is_string());
    }

    #[test]
    fn far_future_times_are_clamped_to_a_day_after_arrival() {
        let m = json!({"type":"identify","userId":"u","messageId":"mf","timestamp":"9999-01-01T00:00:00Z"});
        let ev = to_event(m, &ctx()).unwrap();
        assert_eq!(ev.ts, ctx().received_at + MAX_FUTURE_MS);
        assert!(
            ev.body.contains("9999-01-01"),
            "the client's own value is kept"
        );
    }

    #[test]
    fn identifiers_come_from_ids_traits_and_external_ids() {
        let m = json!({"type":"identify","userId":"u1","anonymousId":"a1","messageId":"m2",
            "traits":{"email":" Ana@Example.com ","phone":"(11) 9123-4567","plan":"gold"},
            "context":{"externalIds":[{"id":"L-77","type":"loyalty_id","collection":"users","encoding":"none"}]}});
        let ev = to_event(m, &ctx()).unwrap();
        let got: Vec<String> = ev.identifiers.iter().map(|i| i.to_string()).collect();
        assert!(got.contains(&"email:ana@example.com".to_string()));
        assert!(got.contains(&"phone:+5511991234567".to_string()), "{got:?}");
        assert!(got.contains(&"loyalty_id:L-77".to_string()));
        assert_eq!(ev.traits.len(), 3);
    }

    #[test]
    fn unknown_fields_are_kept() {
        let m = json!({"type":"page","anonymousId":"a","messageId":"m3","brandNew":{"x":1}});
        let ev = to_event(m, &ctx()).unwrap();
        assert!(ev.body.contains("brandNew"));
    }

    #[test]
    fn items_are_rejected_with_reasons() {
        let code = |m: Value| to_event(m, &ctx()).unwrap_err().code;
        assert_eq!(
            code(json!({"type":"track","event":"X"})),
            ErrorCode::MissingUserOrAnonymousId
        );
        assert_eq!(
            code(json!({"type":"track","userId":"u"})),
            ErrorCode::InvalidEvent
        );
        assert_eq!(
            code(json!({"type":"nope","userId":"u"})),
            ErrorCode::InvalidEvent
        );
        assert_eq!(
            code(json!({"type":"alias","userId":"u"})),
            ErrorCode::InvalidEvent
        );
        assert_eq!(
            code(json!({"type":"track","event":"X","userId":"u","messageId":"x".repeat(100)})),
            ErrorCode::InvalidEvent
        );
        assert_eq!(
            code(json!({"type":"track","event":"X","userId":"u","timestamp":"yesterday"})),
            ErrorCode::InvalidEvent
        );
        assert_eq!(
            code(
                json!({"type":"track","event":"X","userId":"u","properties":{"x":"y".repeat(40_000)}})
            ),
            ErrorCode::PayloadTooLarge
        );
        assert_eq!(code(json!("just a string")), ErrorCode::InvalidEvent);
    }
}
