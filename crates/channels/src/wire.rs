//! Reading provider JSON: a body size limit, and [`Obj`], a view of a JSON object that knows its
//! own path so every error says where it is ("entry[0].changes[0].value.messages[1].id: expected a
//! string, got a number").
//!
//! Providers are read through `serde_json::Value` rather than derived structs because each needs
//! to tell three cases apart: a shape we know (parse it), a well-formed kind we do not handle (skip
//! it with a reason) and a broken shape (refuse the delivery). Integers stay exact: `Value` keeps
//! every integer that fits in `u64`/`i64` as one, so Viber's 64-bit message tokens never pass
//! through `f64`.

use concierge_types::conversation::Content;
use concierge_types::identifier::{Identifier, IdentifierKind};
use concierge_types::Millis;
use serde_json::{Map, Value};

/// Largest webhook body parsed. Meta batches at most a few hundred kilobytes per delivery and the
/// other providers send one event per request; anything bigger is refused unread.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Parses a webhook body. `serde_json` caps nesting at 128 levels, so deep input is an error,
/// never a stack overflow.
pub(crate) fn parse_body(body: &[u8]) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("the body is empty".into());
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(format!(
            "the body is {} bytes; at most {MAX_BODY_BYTES} are accepted",
            body.len()
        ));
    }
    serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// At most 64 characters of `s`, for error messages about untrusted values.
pub(crate) fn short(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// A JSON object and where it sits in the delivery.
#[derive(Debug, Clone)]
pub(crate) struct Obj<'a> {
    pub value: &'a Value,
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    /// The top of a delivery; `what` names it in errors ("the update").
    pub fn root(value: &'a Value, what: &str) -> Result<Self, String> {
        match value {
            Value::Object(map) => Ok(Obj {
                value,
                map,
                path: String::new(),
            }),
            other => Err(format!(
                "{what} must be a JSON object, got {}",
                type_name(other)
            )),
        }
    }

    fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn err(&self, key: &str, expected: &str, got: &Value) -> String {
        format!(
            "{}: expected {expected}, got {}",
            self.at(key),
            type_name(got)
        )
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The value under `key`; JSON `null` counts as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn keys(&self) -> Vec<&'a str> {
        self.map.keys().map(String::as_str).collect()
    }

    pub fn missing(&self, key: &str) -> String {
        format!("{}: missing", self.at(key))
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.err(key, "a string", other)),
        }
    }

    pub fn str(&self, key: &str) -> Result<&'a str, String> {
        self.opt_str(key)?.ok_or_else(|| self.missing(key))
    }

    /// A non-empty string, or `None` for absent, null or "".
    pub fn opt_text(&self, key: &str) -> Result<Option<&'a str>, String> {
        Ok(self.opt_str(key)?.filter(|s| !s.is_empty()))
    }

    /// An id sent as a string or an integer, as a string. Empty strings and non-integers are
    /// errors: an id we cannot store exactly is no id.
    pub fn opt_id(&self, key: &str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Err(format!("{}: is empty", self.at(key)))
            }
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
            Some(other) => Err(self.err(key, "a string or integer id", other)),
        }
    }

    pub fn id(&self, key: &str) -> Result<String, String> {
        self.opt_id(key)?.ok_or_else(|| self.missing(key))
    }

    /// An integer sent as a number or a string of digits (Meta sends timestamps as strings).
    pub fn opt_int(&self, key: &str) -> Result<Option<i64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| format!("{}: {n} is not an integer in range", self.at(key))),
            Some(Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| format!("{}: {:?} is not an integer", self.at(key), short(s))),
            Some(other) => Err(self.err(key, "an integer", other)),
        }
    }

    pub fn int(&self, key: &str) -> Result<i64, String> {
        self.opt_int(key)?.ok_or_else(|| self.missing(key))
    }

    /// An unsigned 64-bit integer, as a number or a string of digits. Never goes through `f64`.
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("{}: {n} is not an unsigned 64-bit integer", self.at(key))),
            Some(Value::String(s)) => s.trim().parse::<u64>().map(Some).map_err(|_| {
                format!(
                    "{}: {:?} is not an unsigned 64-bit integer",
                    self.at(key),
                    short(s)
                )
            }),
            Some(other) => Err(self.err(key, "an unsigned integer", other)),
        }
    }

    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .map(Some)
                .ok_or_else(|| format!("{}: {n} is not a number", self.at(key))),
            Some(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .map(Some)
                .map_err(|_| format!("{}: {:?} is not a number", self.at(key), short(s))),
            Some(other) => Err(self.err(key, "a number", other)),
        }
    }

    pub fn f64(&self, key: &str) -> Result<f64, String> {
        self.opt_f64(key)?.ok_or_else(|| self.missing(key))
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.err(key, "a boolean", other)),
        }
    }

    pub fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(value @ Value::Object(map)) => Ok(Some(Obj {
                value,
                map,
                path: self.at(key),
            })),
            Some(other) => Err(self.err(key, "an object", other)),
        }
    }

    pub fn obj(&self, key: &str) -> Result<Obj<'a>, String> {
        self.opt_obj(key)?.ok_or_else(|| self.missing(key))
    }

    /// The elements of the array under `key` (absent = empty).
    pub fn opt_arr(&self, key: &str) -> Result<&'a [Value], String> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(self.err(key, "an array", other)),
        }
    }

    /// The objects of the array under `key` (absent = empty); a non-object element is an error.
    pub fn objs(&self, key: &str) -> Result<Vec<Obj<'a>>, String> {
        let base = self.at(key);
        self.opt_arr(key)?
            .iter()
            .enumerate()
            .map(|(i, value)| match value {
                Value::Object(map) => Ok(Obj {
                    value,
                    map,
                    path: format!("{base}[{i}]"),
                }),
                other => Err(format!(
                    "{base}[{i}]: expected an object, got {}",
                    type_name(other)
                )),
            })
            .collect()
    }

    /// The strings of the array under `key` (absent = empty).
    pub fn strs(&self, key: &str) -> Result<Vec<&'a str>, String> {
        let base = self.at(key);
        self.opt_arr(key)?
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.as_str()),
                other => Err(format!(
                    "{base}[{i}]: expected a string, got {}",
                    type_name(other)
                )),
            })
            .collect()
    }
}

/// Seconds since the epoch to milliseconds, refusing values that overflow.
pub(crate) fn secs_to_ms(secs: i64, what: &str) -> Result<Millis, String> {
    secs.checked_mul(1000)
        .ok_or_else(|| format!("{what}: {secs} is not a plausible timestamp"))
}

/// Normalises a provider's id of the customer; the error names where it came from.
pub(crate) fn identifier(
    kind: IdentifierKind,
    raw: &str,
    default_region: &str,
    what: &str,
) -> Result<Identifier, String> {
    Identifier::parse(kind, raw, default_region)
        .map_err(|e| format!("{what}: {:?} is not a valid {kind}: {e}", short(raw)))
}

/// A shared location; coordinates that cannot be a place on Earth (not finite, or outside
/// -90..90 / -180..180) become `Other { kind: "location" }` with the raw values as text, so no
/// invalid point reaches a map.
pub(crate) fn location(
    latitude: f64,
    longitude: f64,
    name: Option<String>,
    address: Option<String>,
) -> Content {
    let valid = latitude.is_finite()
        && longitude.is_finite()
        && (-90.0..=90.0).contains(&latitude)
        && (-180.0..=180.0).contains(&longitude);
    if valid {
        Content::Location {
            latitude,
            longitude,
            name,
            address,
        }
    } else {
        Content::Other {
            kind: "location".into(),
            text: Some(format!(
                "invalid coordinates: latitude {latitude}, longitude {longitude}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_the_path() {
        let v = json!({"a": {"b": [{"c": 5}, 7]}});
        let root = Obj::root(&v, "the body").unwrap();
        let a = root.obj("a").unwrap();
        let bs = a.objs("b").unwrap_err();
        assert_eq!(bs, "a.b[1]: expected an object, got a number");
        let v = json!({"a": {"b": [{"c": 5}]}});
        let root = Obj::root(&v, "the body").unwrap();
        let c = &root.obj("a").unwrap().objs("b").unwrap()[0];
        assert_eq!(
            c.str("c").unwrap_err(),
            "a.b[0].c: expected a string, got a number"
        );
        assert_eq!(c.str("d").unwrap_err(), "a.b[0].d: missing");
    }

    #[test]
    fn integers_stay_exact() {
        let v: Value = serde_json::from_str(r#"{"t": 4912661846655238145, "s": "1697043223", "f": 1.5, "big": 123456789012345678901234567890}"#).unwrap();
        let o = Obj::root(&v, "x").unwrap();
        assert_eq!(o.opt_u64("t").unwrap(), Some(4912661846655238145));
        assert_eq!(o.id("t").unwrap(), "4912661846655238145");
        assert_eq!(o.int("s").unwrap(), 1697043223);
        assert!(o.opt_u64("f").is_err());
        assert!(o.id("f").is_err());
        assert!(o.opt_u64("big").is_err());
        assert!(o.int("big").is_err());
    }

    #[test]
    fn body_limits() {
        assert!(parse_body(b"").is_err());
        assert!(parse_body(b"  \n").is_err());
        assert!(parse_body(b"{").unwrap_err().contains("not valid JSON"));
        let deep = "[".repeat(100_000);
        assert!(parse_body(deep.as_bytes()).is_err());
        assert!(secs_to_ms(i64::MAX, "t").is_err());
    }
}
