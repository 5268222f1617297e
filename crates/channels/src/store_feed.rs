//! Physical stores: purchases, returns and in-store service visits from a POS or CRM, as events on
//! the customer's timeline. They arrive as JSON (`POST /api/v1/store-events`) or as CSV rows
//! (`concierge import store`), both turned into [`StoreEvent`] first.
//!
//! Purchases become `Order Completed` and returns `Order Refunded` (the names of Segment's
//! e-commerce spec, so everything reading orders — the bot's "where is my order?" — sees store
//! orders and web orders alike); service visits become `Store Visit`.

use crate::untrusted::{clamp_name, clamp_text};
use concierge_types::{EventKind, Identifier, IdentifierKind, NewEvent};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreEventKind {
    Purchase,
    Return,
    ServiceVisit,
}

impl StoreEventKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "purchase" => Some(Self::Purchase),
            "return" => Some(Self::Return),
            "service_visit" => Some(Self::ServiceVisit),
            _ => None,
        }
    }
    fn event_name(self) -> &'static str {
        match self {
            Self::Purchase => "Order Completed",
            Self::Return => "Order Refunded",
            Self::ServiceVisit => "Store Visit",
        }
    }
}

/// Whom a store event belongs to: at least one of these.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreCustomer {
    pub loyalty_id: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreItem {
    pub sku: String,
    pub name: Option<String>,
    #[serde(default = "one")]
    pub quantity: f64,
    pub unit_price: Option<f64>,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreEvent {
    #[serde(rename = "type")]
    pub kind: StoreEventKind,
    /// Receipt, return or visit number: unique per store, so a resent event is stored once.
    pub id: String,
    pub store_id: String,
    /// RFC 3339, or `YYYY-MM-DD HH:MM:SS` taken as UTC.
    pub occurred_at: String,
    #[serde(default)]
    pub customer: StoreCustomer,
    #[serde(default)]
    pub items: Vec<StoreItem>,
    /// The receipt total; the sum of the items when absent.
    pub total: Option<f64>,
    pub currency: Option<String>,
    /// What happened at a service visit, or why something was returned.
    pub notes: Option<String>,
    pub staff: Option<String>,
}

/// Most items per receipt.
pub const MAX_ITEMS: usize = 1000;

fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

fn short(field: &str, v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.is_empty() {
        return Err(format!("{field} is empty"));
    }
    if v.len() > 200 || v.chars().any(char::is_control) {
        return Err(format!(
            "{field} must be at most 200 characters, without control characters"
        ));
    }
    Ok(v.to_string())
}

/// The timeline event of a store event. `received_at` is when Concierge got it.
pub fn to_event(
    e: &StoreEvent,
    source: &str,
    received_at: i64,
    default_region: &str,
) -> Result<NewEvent, String> {
    let id = short("id", &e.id)?;
    let store = short("store_id", &e.store_id)?;
    let ts = parse_time(&e.occurred_at).ok_or_else(|| {
        format!(
            "occurred_at {:?} is neither RFC 3339 nor YYYY-MM-DD HH:MM:SS",
            e.occurred_at
        )
    })?;
    if ts > received_at + 24 * 3_600_000 {
        return Err("occurred_at is more than a day in the future".into());
    }
    let mut identifiers = Vec::new();
    let c = &e.customer;
    for (kind, value) in [
        (IdentifierKind::LoyaltyId, &c.loyalty_id),
        (IdentifierKind::Phone, &c.phone),
        (IdentifierKind::Email, &c.email),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            let id = Identifier::parse(kind, v, default_region)
                .map_err(|err| format!("customer.{kind}: {err}"))?;
            identifiers.push(id);
        }
    }
    if identifiers.is_empty() {
        return Err("customer needs a loyalty_id, phone or email".into());
    }
    if e.items.len() > MAX_ITEMS {
        return Err(format!("more than {MAX_ITEMS} items"));
    }
    let mut products = Vec::with_capacity(e.items.len());
    let mut sum = 0.0;
    for (i, item) in e.items.iter().enumerate() {
        let sku = short(&format!("items[{i}].sku"), &item.sku)?;
        if !item.quantity.is_finite() || item.unit_price.is_some_and(|p| !p.is_finite()) {
            return Err(format!(
                "items[{i}]: quantity and unit_price must be numbers"
            ));
        }
        sum += item.quantity * item.unit_price.unwrap_or(0.0);
        products.push(json!({
            "sku": sku,
            "name": item.name.as_deref().and_then(clamp_name),
            "quantity": item.quantity,
            "price": item.unit_price,
        }));
    }
    let total = match e.total {
        Some(t) if !t.is_finite() => return Err("total must be a number".into()),
        Some(t) => t,
        None => (sum * 100.0).round() / 100.0,
    };
    let currency = match &e.currency {
        Some(c) if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()) => {
            Some(c.to_ascii_uppercase())
        }
        Some(c) => return Err(format!("currency {c:?} is not a 3-letter ISO code")),
        None => None,
    };
    let name = e.kind.event_name();
    let mut properties = json!({
        "order_id": id,
        "store_id": store,
        "products": products,
        "total": total,
        "currency": currency,
    });
    if let Some(notes) = &e.notes {
        properties["notes"] = json!(clamp_text(notes));
    }
    if let Some(staff) = &e.staff {
        properties["staff"] = json!(clamp_name(staff));
    }
    if e.kind == StoreEventKind::ServiceVisit {
        properties["visit_id"] = properties["order_id"].take();
        if let Some(o) = properties.as_object_mut() {
            o.remove("order_id");
        }
    }
    let mut traits = Vec::new();
    if let Some(n) = c.name.as_deref().and_then(clamp_name) {
        traits.push(("name".to_string(), json!(n)));
    }
    let body = json!({
        "type": "track",
        "event": name,
        "properties": properties,
        "context": { "store": { "id": store } },
    });
    Ok(NewEvent {
        dedup_key: format!("store:{store}:{}:{id}", e.kind.event_name()),
        kind: EventKind::Track,
        name: Some(name.into()),
        channel: "store".into(),
        source: source.to_string(),
        ts,
        received_at,
        identifiers,
        traits,
        consents: Vec::new(),
        consent_snapshot: None,
        body: body.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purchase() -> StoreEvent {
        serde_json::from_value(json!({
            "type": "purchase", "id": "R-1001", "store_id": "SP-Paulista",
            "occurred_at": "2026-11-20 15:04:05",
            "customer": {"loyalty_id": "L-77", "phone": "(11) 98765-4321", "name": "Ana"},
            "items": [{"sku": "TEN-01", "name": "Tênis", "quantity": 2, "unit_price": 199.9}],
            "currency": "brl"
        }))
        .unwrap()
    }

    #[test]
    fn purchase_becomes_order_completed() {
        let ev = to_event(&purchase(), "store", i64::MAX / 2, "BR").unwrap();
        assert_eq!(ev.name.as_deref(), Some("Order Completed"));
        assert_eq!(ev.channel, "store");
        let kinds: Vec<_> = ev.identifiers.iter().map(|i| i.kind).collect();
        assert_eq!(kinds, [IdentifierKind::LoyaltyId, IdentifierKind::Phone]);
        assert_eq!(ev.identifiers[1].value, "+5511987654321");
        let body: serde_json::Value = serde_json::from_str(&ev.body).unwrap();
        assert_eq!(body["properties"]["total"], 399.8);
        assert_eq!(body["properties"]["currency"], "BRL");
        assert_eq!(ev.traits[0].1, "Ana");
    }

    #[test]
    fn refuses_what_cannot_be_filed() {
        let mut e = purchase();
        e.customer = StoreCustomer::default();
        assert!(to_event(&e, "s", i64::MAX / 2, "BR")
            .unwrap_err()
            .contains("loyalty_id"));
        let mut e = purchase();
        e.occurred_at = "yesterday".into();
        assert!(to_event(&e, "s", i64::MAX / 2, "BR").is_err());
        let mut e = purchase();
        e.occurred_at = "2999-01-01T00:00:00Z".into();
        assert!(to_event(&e, "s", 0, "BR").unwrap_err().contains("future"));
        let mut e = purchase();
        e.currency = Some("reais".into());
        assert!(to_event(&e, "s", i64::MAX / 2, "BR").is_err());
        let mut e = purchase();
        e.items[0].quantity = f64::NAN;
        assert!(to_event(&e, "s", i64::MAX / 2, "BR").is_err());
        assert!(serde_json::from_value::<StoreEvent>(json!({"type": "theft"})).is_err());
    }

    #[test]
    fn visits_have_no_order_id() {
        let mut e = purchase();
        e.kind = StoreEventKind::ServiceVisit;
        e.notes = Some("ajuste de tamanho".into());
        let ev = to_event(&e, "s", i64::MAX / 2, "BR").unwrap();
        let body: serde_json::Value = serde_json::from_str(&ev.body).unwrap();
        assert_eq!(body["properties"]["visit_id"], "R-1001");
        assert!(body["properties"].get("order_id").is_none());
    }
}
