//! Consent carried by events: Segment's `context.consent.categoryPreferences` and RudderStack's
//! `context.consentManagement`. Each category becomes a ledger entry (recorded when it changes) and
//! the raw objects are stamped on the stored event.

use concierge_types::consent::{
    ChannelScope, ConsentStatus, Evidence, LegalBasis, NewConsent, Purpose,
};
use serde_json::{Map, Value};

/// Web CMP choices apply to web tracking; server-side events carry the brand's own record (all channels).
fn scope_for(channel: &str) -> ChannelScope {
    match channel {
        "browser" => ChannelScope::parse("web").unwrap_or_else(|_| ChannelScope::all()),
        "mobile" => ChannelScope::parse("app").unwrap_or_else(|_| ChannelScope::all()),
        _ => ChannelScope::all(),
    }
}

/// Keeps the first three octets of an IPv4 address (or the first half of IPv6): enough as evidence,
/// less as personal data.
fn minimise_ip(ip: &str) -> String {
    if ip.contains(':') {
        let parts: Vec<&str> = ip.split(':').take(4).collect();
        format!("{}::", parts.join(":"))
    } else {
        let parts: Vec<&str> = ip.split('.').take(3).collect();
        format!("{}.0", parts.join("."))
    }
}

pub(crate) fn extract_consent(
    m: &Map<String, Value>,
    channel: &str,
    message_id: &str,
) -> (Vec<NewConsent>, Option<String>) {
    let Some(context) = m.get("context").and_then(Value::as_object) else {
        return (Vec::new(), None);
    };
    let segment = context.get("consent").and_then(Value::as_object);
    let rudder = context.get("consentManagement").and_then(Value::as_object);
    if segment.is_none() && rudder.is_none() {
        return (Vec::new(), None);
    }
    let evidence = |method: String| Evidence {
        touchpoint: Some(
            context
                .get("page")
                .and_then(|p| p.get("url"))
                .and_then(Value::as_str)
                .map(|u| format!("{u} (segment:{message_id})"))
                .unwrap_or_else(|| format!("segment:{message_id}")),
        ),
        method: Some(method),
        captured_at: m
            .get("originalTimestamp")
            .or_else(|| m.get("timestamp"))
            .and_then(Value::as_str)
            .map(str::to_string),
        cmp_string: None,
        ip: context.get("ip").and_then(Value::as_str).map(minimise_ip),
        user_agent: context
            .get("userAgent")
            .and_then(Value::as_str)
            .map(|s| s.chars().take(256).collect()),
    };
    let mut out = Vec::new();
    let mut add = |purpose: &str, granted: bool, method: String| {
        let Ok(purpose) = Purpose::parse(purpose) else {
            return;
        };
        out.push(NewConsent {
            purpose,
            channel: scope_for(channel),
            status: if granted {
                ConsentStatus::Granted
            } else {
                ConsentStatus::Denied
            },
            legal_basis: LegalBasis::Consent,
            notice_version: None,
            evidence: evidence(method),
            effective_at: None,
            expires_at: None,
            source: "segment".into(),
        });
    };
    if let Some(prefs) = segment
        .and_then(|s| s.get("categoryPreferences"))
        .and_then(Value::as_object)
    {
        for (category, v) in prefs {
            if let Some(b) = v.as_bool() {
                add(category, b, "cmp".into());
            }
        }
    }
    if let Some(r) = rudder {
        let provider = r
            .get("provider")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        for (key, granted) in [("allowedConsentIds", true), ("deniedConsentIds", false)] {
            if let Some(ids) = r.get(key).and_then(Value::as_array) {
                for id in ids {
                    let id = match id {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => continue,
                    };
                    add(&id, granted, format!("cmp:{provider}"));
                }
            }
        }
    }
    let mut snapshot = Map::new();
    if let Some(s) = segment {
        snapshot.insert("consent".into(), Value::Object(s.clone()));
    }
    if let Some(r) = rudder {
        snapshot.insert("consentManagement".into(), Value::Object(r.clone()));
    }
    (out, Some(Value::Object(snapshot).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_consent_shapes_become_ledger_entries() {
        let m = json!({"messageId":"m","context":{"ip":"200.10.20.30",
            "consent":{"categoryPreferences":{"Advertising":false,"Analytics":true}},
            "consentManagement":{"provider":"oneTrust","allowedConsentIds":["C0001"],"deniedConsentIds":["C0004"]}}});
        let (c, snap) = extract_consent(m.as_object().unwrap(), "browser", "m");
        assert_eq!(c.len(), 4);
        let adv = c
            .iter()
            .find(|c| c.purpose.as_str() == "advertising")
            .unwrap();
        assert_eq!(adv.status, ConsentStatus::Denied);
        assert_eq!(adv.channel.as_str(), "web");
        assert_eq!(adv.evidence.ip.as_deref(), Some("200.10.20.0"));
        assert!(snap.unwrap().contains("categoryPreferences"));
    }
}
