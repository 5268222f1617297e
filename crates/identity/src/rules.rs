use concierge_types::{Identifier, IdentifierKind};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

/// The identity rules, as set in the `[identity]` section of the config file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// Region (ISO 3166-1 alpha-2) used to read phone numbers written without a country code.
    pub default_region: String,
    /// Kinds of which a customer may hold only one value: two clusters with different values of
    /// such a kind are never merged, whatever else they share.
    pub unique_kinds: BTreeSet<IdentifierKind>,
    /// Values that never identify anybody (shared test addresses, placeholder phones, "null" ids).
    pub blocked: Vec<BlockedValue>,
    /// Most identifiers of a kind one customer may hold; extra values are not attached and never
    /// cause a merge. Kinds not listed use `default_limit`.
    pub max_per_kind: BTreeMap<IdentifierKind, usize>,
    pub default_limit: usize,
    /// `blocked`, indexed on first use.
    #[serde(skip)]
    compiled: OnceLock<CompiledBlocks>,
}

#[derive(Debug, Clone, Default)]
struct CompiledBlocks {
    literals: HashMap<String, Vec<Option<IdentifierKind>>>,
    patterns: Vec<(Option<IdentifierKind>, String)>,
}

/// A blocked value: a literal or a pattern with `*` wildcards, for one kind or (kind absent) all.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockedValue {
    #[serde(default)]
    pub kind: Option<IdentifierKind>,
    pub value: String,
}

impl Default for Rules {
    fn default() -> Self {
        let blocked = [
            (Some(IdentifierKind::Email), "test@test.com"),
            (Some(IdentifierKind::Email), "test@example.com"),
            (Some(IdentifierKind::Email), "email@email.com"),
            (Some(IdentifierKind::Email), "a@a.com"),
            (Some(IdentifierKind::Email), "null@null.com"),
            (Some(IdentifierKind::Email), "noreply@*"),
            (Some(IdentifierKind::Email), "no-reply@*"),
            (Some(IdentifierKind::Phone), "+00000000000"),
            (Some(IdentifierKind::Phone), "00000000000"),
            (Some(IdentifierKind::Phone), "+5500000000000"),
            (None, "null"),
            (None, "undefined"),
            (None, "none"),
            (None, "nil"),
            (None, "0"),
            (None, "-1"),
            (None, "anonymous"),
            (None, "guest"),
            (None, "unknown"),
            (None, "[object Object]"),
        ]
        .into_iter()
        .map(|(kind, value)| BlockedValue {
            kind,
            value: value.to_string(),
        })
        .collect();
        let max_per_kind = [
            (IdentifierKind::UserId, 1),
            (IdentifierKind::Email, 5),
            (IdentifierKind::Phone, 5),
            (IdentifierKind::AnonymousId, 200),
        ]
        .into_iter()
        .collect();
        Rules {
            default_region: "BR".into(),
            unique_kinds: [IdentifierKind::UserId].into_iter().collect(),
            blocked,
            max_per_kind,
            default_limit: 5,
            compiled: OnceLock::new(),
        }
    }
}

impl Rules {
    pub fn is_unique(&self, kind: IdentifierKind) -> bool {
        self.unique_kinds.contains(&kind)
    }

    pub fn limit(&self, kind: IdentifierKind) -> usize {
        self.max_per_kind
            .get(&kind)
            .copied()
            .unwrap_or(self.default_limit)
    }

    /// Blocked values are compared case-insensitively. Checked for every identifier of every
    /// event, so the list is indexed on first use: literals in a map, patterns in a short list.
    pub fn is_blocked(&self, id: &Identifier) -> bool {
        let compiled = self.compiled.get_or_init(|| {
            let mut c = CompiledBlocks::default();
            for b in &self.blocked {
                let v = b.value.to_lowercase();
                if v.contains('*') {
                    c.patterns.push((b.kind, v));
                } else {
                    c.literals.entry(v).or_default().push(b.kind);
                }
            }
            c
        });
        // ASCII-only values without capitals are compared as they are; anything else is lowered
        // (title-case letters such as ǅ are not `is_uppercase` yet do change).
        let plain = id
            .value
            .bytes()
            .all(|b| b.is_ascii() && !b.is_ascii_uppercase());
        let value: Cow<str> = if !plain {
            Cow::Owned(id.value.to_lowercase())
        } else {
            Cow::Borrowed(&id.value)
        };
        let applies = |k: &Option<IdentifierKind>| k.is_none_or(|k| k == id.kind);
        compiled
            .literals
            .get(value.as_ref())
            .is_some_and(|kinds| kinds.iter().any(applies))
            || compiled
                .patterns
                .iter()
                .any(|(k, p)| applies(k) && glob_match(p, &value))
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob_match(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !value.starts_with(first) || value.len() < first.len() + last.len() || !value.ends_with(last)
    {
        return false;
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_literals_and_wildcards() {
        assert!(glob_match("test@test.com", "test@test.com"));
        assert!(!glob_match("test@test.com", "test@test.co"));
        assert!(glob_match("noreply@*", "noreply@shop.com.br"));
        assert!(glob_match("*@mailinator.com", "x@mailinator.com"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxc"));
    }

    #[test]
    fn default_rules_block_placeholders() {
        let r = Rules::default();
        let id = |k, v: &str| Identifier::from_stored(k, v.to_string());
        assert!(r.is_blocked(&id(IdentifierKind::Email, "test@test.com")));
        assert!(r.is_blocked(&id(IdentifierKind::UserId, "null")));
        assert!(r.is_blocked(&id(IdentifierKind::AnonymousId, "undefined")));
        assert!(!r.is_blocked(&id(IdentifierKind::Email, "ana@example.com")));
        assert!(r.is_unique(IdentifierKind::UserId));
        assert_eq!(r.limit(IdentifierKind::InstagramId), 5);
    }
}
