//! What the customer data core already knows about the person writing, in the shape the bot
//! needs: their orders (folded from `Order Completed` / `Order Shipped` / `Order Delivered` /
//! `Order Cancelled` / `Order Refunded` events from every source: the website, the app, a store),
//! their traits and verified contact details. The caller reads these from the store; this module
//! only interprets them, so it works the same on every backend.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Event names that move an order along, in the order they normally happen.
pub const ORDER_EVENTS: [&str; 6] = [
    "Order Completed",
    "Order Placed",
    "Order Shipped",
    "Order Delivered",
    "Order Cancelled",
    "Order Refunded",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Placed,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
}

impl OrderState {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Placed => "placed",
            OrderState::Shipped => "shipped",
            OrderState::Delivered => "delivered",
            OrderState::Cancelled => "cancelled",
            OrderState::Refunded => "refunded",
        }
    }

    fn from_event(name: &str) -> Option<OrderState> {
        Some(match name {
            "Order Completed" | "Order Placed" => OrderState::Placed,
            "Order Shipped" => OrderState::Shipped,
            "Order Delivered" => OrderState::Delivered,
            "Order Cancelled" => OrderState::Cancelled,
            "Order Refunded" => OrderState::Refunded,
            _ => return None,
        })
    }

    /// The state word in a language (`order.status`).
    pub fn word(self, lang: &str) -> &'static str {
        let pt = lang.starts_with("pt");
        let es = lang.starts_with("es");
        match (self, pt, es) {
            (OrderState::Placed, true, _) => "confirmado, em separação",
            (OrderState::Placed, _, true) => "confirmado, en preparación",
            (OrderState::Placed, ..) => "confirmed, being prepared",
            (OrderState::Shipped, true, _) => "enviado",
            (OrderState::Shipped, _, true) => "enviado",
            (OrderState::Shipped, ..) => "shipped",
            (OrderState::Delivered, true, _) => "entregue",
            (OrderState::Delivered, _, true) => "entregado",
            (OrderState::Delivered, ..) => "delivered",
            (OrderState::Cancelled, true, _) => "cancelado",
            (OrderState::Cancelled, _, true) => "cancelado",
            (OrderState::Cancelled, ..) => "cancelled",
            (OrderState::Refunded, true, _) => "reembolsado",
            (OrderState::Refunded, _, true) => "reembolsado",
            (OrderState::Refunded, ..) => "refunded",
        }
    }
}

/// One order as its events tell it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub state: OrderState,
    pub placed_at: Option<i64>,
    pub updated_at: i64,
    pub total: Option<f64>,
    pub currency: Option<String>,
    /// Where it was bought: the event's channel (`browser`, `mobile`, `store`, `server`, a
    /// messaging channel).
    pub channel: Option<String>,
    pub carrier: Option<String>,
    pub tracking_code: Option<String>,
    pub tracking_url: Option<String>,
    /// The estimated delivery date as the source gave it.
    pub delivery_date: Option<String>,
    pub delivered_at: Option<i64>,
}

/// An order event as stored: name, time (ms), channel and the Segment `properties`.
pub struct OrderEvent<'a> {
    pub name: &'a str,
    pub ts: i64,
    pub channel: &'a str,
    pub properties: &'a Value,
}

fn prop_str(p: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match p.get(*k)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn prop_num(p: &Value, keys: &[&str]) -> Option<f64> {
    keys.iter().find_map(|k| match p.get(*k)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Folds order events (in any order) into orders, newest first. Later events of an order move its
/// state forward and fill in what earlier ones lacked; a late `Order Completed` after `Order
/// Shipped` (sources disagree on clocks) never moves it back.
pub fn orders(events: &[OrderEvent<'_>]) -> Vec<Order> {
    let mut sorted: Vec<&OrderEvent<'_>> = events.iter().collect();
    sorted.sort_by_key(|e| e.ts);
    let mut by_id: BTreeMap<String, Order> = BTreeMap::new();
    for e in sorted {
        let Some(state) = OrderState::from_event(e.name) else {
            continue;
        };
        let p = e.properties;
        let Some(id) = prop_str(p, &["order_id", "orderId", "checkout_id"]) else {
            continue;
        };
        // Sources format numbers differently ("#A-100", "a100"): one order all the same.
        let o = by_id
            .entry(normalize_order_id(&id))
            .or_insert_with(|| Order {
                id,
                state,
                placed_at: None,
                updated_at: e.ts,
                total: None,
                currency: None,
                channel: None,
                carrier: None,
                tracking_code: None,
                tracking_url: None,
                delivery_date: None,
                delivered_at: None,
            });
        // Cancelled/refunded are final; otherwise the furthest state wins.
        let final_state = matches!(o.state, OrderState::Cancelled | OrderState::Refunded);
        if !final_state && state >= o.state {
            o.state = state;
        }
        o.updated_at = o.updated_at.max(e.ts);
        if state == OrderState::Placed {
            o.placed_at.get_or_insert(e.ts);
            o.channel.get_or_insert_with(|| e.channel.to_string());
        }
        if state == OrderState::Delivered {
            o.delivered_at.get_or_insert(e.ts);
        }
        let fill = |slot: &mut Option<String>, keys: &[&str]| {
            if let Some(v) = prop_str(p, keys) {
                *slot = Some(v);
            }
        };
        fill(&mut o.currency, &["currency"]);
        fill(
            &mut o.carrier,
            &["carrier", "shipping_carrier", "shipping_method"],
        );
        fill(&mut o.tracking_code, &["tracking_code", "tracking_number"]);
        fill(&mut o.tracking_url, &["tracking_url"]);
        fill(
            &mut o.delivery_date,
            &[
                "estimated_delivery",
                "estimated_delivery_date",
                "delivery_date",
                "expected_delivery",
            ],
        );
        if let Some(t) = prop_num(p, &["total", "revenue", "value"]) {
            if o.total.is_none() || state == OrderState::Placed {
                o.total = Some(t);
            }
        }
    }
    let mut out: Vec<Order> = by_id.into_values().collect();
    out.sort_by_key(|o| std::cmp::Reverse(o.placed_at.unwrap_or(o.updated_at)));
    out
}

/// The customer as the bot sees them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub name: Option<String>,
    pub traits: BTreeMap<String, Value>,
    /// Verified contact details (identifiers), by kind: `email`, `phone`…
    pub identifiers: Vec<(String, String)>,
    /// Newest first.
    pub orders: Vec<Order>,
    /// Channels the customer has used (for the handoff note).
    pub channels: Vec<String>,
}

impl Customer {
    pub fn first_name(&self) -> Option<String> {
        let from_traits = ["first_name", "firstName"]
            .iter()
            .find_map(|k| self.traits.get(*k)?.as_str().map(str::to_string));
        from_traits.or_else(|| {
            let name = self
                .traits
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| self.name.clone())?;
            name.split_whitespace().next().map(str::to_string)
        })
    }

    pub fn order(&self, id: &str) -> Option<&Order> {
        let want = normalize_order_id(id);
        self.orders
            .iter()
            .find(|o| normalize_order_id(&o.id) == want)
    }
}

/// Order numbers compare without `#`, spaces, dashes and case: "#AUR-88812" = "aur88812".
pub fn normalize_order_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The display of a time (ms) as a date in a language: `23/11/2026` or `2026-11-23`.
pub fn date(ms: i64, lang: &str) -> String {
    let Some(d) = chrono::DateTime::from_timestamp_millis(ms) else {
        return String::new();
    };
    if lang.starts_with("en") {
        d.format("%Y-%m-%d").to_string()
    } else {
        d.format("%d/%m/%Y").to_string()
    }
}

/// A date as the source gave it (`2026-11-28` or an ISO time), shown like [`date`].
pub fn date_text(s: &str, lang: &str) -> String {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return date(t.timestamp_millis(), lang);
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(12, 0, 0) {
            return date(t.and_utc().timestamp_millis(), lang);
        }
    }
    s.to_string()
}

/// Money in a language: `R$ 1.234,50` in Portuguese, `BRL 1,234.50` in English.
pub fn money(amount: f64, currency: Option<&str>, lang: &str) -> String {
    let cents = (amount * 100.0).round() as i64;
    let (whole, frac) = (cents / 100, (cents % 100).abs());
    let digits = whole.abs().to_string();
    let (thousands, decimal) = if lang.starts_with("en") {
        (',', '.')
    } else {
        ('.', ',')
    };
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(thousands);
        }
        grouped.push(c);
    }
    let sign = if cents < 0 { "-" } else { "" };
    let symbol = match currency.unwrap_or("BRL") {
        "BRL" => "R$".to_string(),
        other => other.to_string(),
    };
    format!("{symbol} {sign}{grouped}{decimal}{frac:02}")
}

/// Where an order was bought, in words.
pub fn channel_word(channel: &str, lang: &str) -> String {
    let pt = lang.starts_with("pt");
    let es = lang.starts_with("es");
    let w = match channel {
        "browser" | "server" | "web" => {
            if pt || es {
                "site"
            } else {
                "website"
            }
        }
        "mobile" => "app",
        "store" => {
            if pt {
                "loja física"
            } else if es {
                "tienda física"
            } else {
                "store"
            }
        }
        "whatsapp" => "WhatsApp",
        "instagram" => "Instagram",
        "messenger" => "Messenger",
        "telegram" => "Telegram",
        "email" => "e-mail",
        other => other,
    };
    w.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn orders_fold_across_sources_and_never_move_back() {
        let placed = json!({"order_id": "A-100", "total": 250.5, "currency": "BRL"});
        let shipped = json!({"order_id": "a100", "carrier": "Correios", "tracking_code": "BR1"});
        let older = json!({"order_id": 7, "total": "99.90"});
        let late_completed = json!({"order_id": "A-100"});
        let events = [
            OrderEvent {
                name: "Order Completed",
                ts: 1_000,
                channel: "browser",
                properties: &placed,
            },
            OrderEvent {
                name: "Order Shipped",
                ts: 2_000,
                channel: "server",
                properties: &shipped,
            },
            OrderEvent {
                name: "Order Completed",
                ts: 500,
                channel: "store",
                properties: &older,
            },
            OrderEvent {
                name: "Order Completed",
                ts: 3_000,
                channel: "server",
                properties: &late_completed,
            },
            OrderEvent {
                name: "Product Viewed",
                ts: 4_000,
                channel: "browser",
                properties: &placed,
            },
        ];
        let os = orders(&events);
        let a = os.iter().find(|o| o.id == "A-100").unwrap();
        assert_eq!(a.state, OrderState::Shipped);
        assert_eq!(a.carrier.as_deref(), Some("Correios"));
        assert_eq!(a.channel.as_deref(), Some("browser"));
        assert_eq!(a.total, Some(250.5));
        let seven = os.iter().find(|o| o.id == "7").unwrap();
        assert_eq!(seven.total, Some(99.9));
        assert_eq!(seven.channel.as_deref(), Some("store"));
        // Newest first.
        assert_eq!(os[0].id, "A-100");
    }

    #[test]
    fn a_shipment_moves_the_order_forward_and_a_late_placed_does_not_undo_it() {
        let p = json!({"order_id": "5001", "total": 10});
        let s = json!({"order_id": "5001", "carrier": "Loggi", "estimated_delivery": "2026-11-28"});
        let events = [
            OrderEvent {
                name: "Order Shipped",
                ts: 2_000,
                channel: "server",
                properties: &s,
            },
            OrderEvent {
                name: "Order Completed",
                ts: 1_000,
                channel: "mobile",
                properties: &p,
            },
        ];
        let o = &orders(&events)[0];
        assert_eq!(o.state, OrderState::Shipped);
        assert_eq!(o.carrier.as_deref(), Some("Loggi"));
        assert_eq!(
            date_text(o.delivery_date.as_deref().unwrap(), "pt-BR"),
            "28/11/2026"
        );
        assert_eq!(date_text("2026-11-28", "en"), "2026-11-28");
        let c = Customer {
            orders: orders(&events),
            ..Default::default()
        };
        assert!(c.order("#5001").is_some());
    }

    #[test]
    fn money_reads_naturally() {
        assert_eq!(money(1234.5, Some("BRL"), "pt-BR"), "R$ 1.234,50");
        assert_eq!(money(1234.5, Some("BRL"), "en"), "R$ 1,234.50");
        assert_eq!(money(0.5, Some("USD"), "en"), "USD 0.50");
        assert_eq!(money(1_000_000.0, None, "es"), "R$ 1.000.000,00");
    }
}
