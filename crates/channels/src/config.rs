//! [`ChannelConfig`]: the settings of one channel as the admin gives them, secrets included.

use concierge_types::conversation::ChannelKind;
use serde::{Deserialize, Serialize};

/// Channel settings as the admin gives them (a JSON object; unknown fields are refused so a typo
/// is an error, not a silently ignored setting). [`ChannelConfig::validate`] says which fields a
/// kind needs; every kind may set `api_base`.
///
/// `Debug` and [`ChannelConfig::redacted`] never show a secret. `Serialize` does (it is for
/// storing the config); never send it to an API client.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Meta app secret: the key of `X-Hub-Signature-256` (WhatsApp, Messenger, Instagram). For
    /// TikTok, the app's client secret: the key of `TikTok-Signature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_secret: Option<String>,
    /// The token Meta echoes in the GET handshake (WhatsApp, Messenger, Instagram).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_token: Option<String>,
    /// WhatsApp Cloud API token (system user); TikTok Business API `Access-Token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// WhatsApp business phone number id (digits), the sender in `/{id}/messages`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    /// Page access token for the Send API (Messenger, Instagram).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_access_token: Option<String>,
    /// Telegram bot token (`123456:ABC-...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_token: Option<String>,
    /// The `secret_token` given to Telegram's `setWebhook`, echoed in
    /// `X-Telegram-Bot-Api-Secret-Token` (1-256 of `A-Z a-z 0-9 _ -`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_token: Option<String>,
    /// Viber bot auth token: `X-Viber-Auth-Token` and the key of `X-Viber-Content-Signature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<String>,
    /// The sender name Viber shows on every message (at most 28 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    /// Outgoing mail server, `smtp://` or `smtps://` (credentials may be in the URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_url: Option<String>,
    /// Incoming mail server, `imap://` or `imaps://` (credentials may be in the URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imap_url: Option<String>,
    /// The channel's email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Webchat: HMAC key for visitor identity. API channel: signing secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// TikTok business id (`user_openid` of the business account), sent in every API call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_id: Option<String>,
    /// Provider API base URL, so tests and proxies can point elsewhere; each provider has a
    /// default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
}

/// How a setting is shown in API answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Show {
    Plain,
    Secret,
    /// A URL that may carry a password in its user-info part.
    UrlWithCredentials,
}

/// One setting: its name, what it is (for error messages) and how it is shown.
struct Field {
    name: &'static str,
    about: &'static str,
    show: Show,
    get: fn(&ChannelConfig) -> &Option<String>,
}

/// Every setting, in the order they are reported.
const FIELDS: &[Field] = &[
    Field {
        name: "app_secret",
        about: "the app secret that signs webhooks",
        show: Show::Secret,
        get: |c| &c.app_secret,
    },
    Field {
        name: "verify_token",
        about: "the token of the webhook GET handshake",
        show: Show::Secret,
        get: |c| &c.verify_token,
    },
    Field {
        name: "access_token",
        about: "the API access token",
        show: Show::Secret,
        get: |c| &c.access_token,
    },
    Field {
        name: "phone_number_id",
        about: "the WhatsApp business phone number id",
        show: Show::Plain,
        get: |c| &c.phone_number_id,
    },
    Field {
        name: "page_access_token",
        about: "the page access token of the Send API",
        show: Show::Secret,
        get: |c| &c.page_access_token,
    },
    Field {
        name: "bot_token",
        about: "the Telegram bot token",
        show: Show::Secret,
        get: |c| &c.bot_token,
    },
    Field {
        name: "secret_token",
        about: "the secret_token given to setWebhook",
        show: Show::Secret,
        get: |c| &c.secret_token,
    },
    Field {
        name: "auth_token",
        about: "the Viber bot auth token",
        show: Show::Secret,
        get: |c| &c.auth_token,
    },
    Field {
        name: "sender_name",
        about: "the sender name shown on Viber messages",
        show: Show::Plain,
        get: |c| &c.sender_name,
    },
    Field {
        name: "smtp_url",
        about: "the outgoing mail server URL",
        show: Show::UrlWithCredentials,
        get: |c| &c.smtp_url,
    },
    Field {
        name: "imap_url",
        about: "the incoming mail server URL",
        show: Show::UrlWithCredentials,
        get: |c| &c.imap_url,
    },
    Field {
        name: "address",
        about: "the channel's email address",
        show: Show::Plain,
        get: |c| &c.address,
    },
    Field {
        name: "secret",
        about: "the signing secret",
        show: Show::Secret,
        get: |c| &c.secret,
    },
    Field {
        name: "business_id",
        about: "the TikTok business id",
        show: Show::Plain,
        get: |c| &c.business_id,
    },
    Field {
        name: "api_base",
        about: "the provider API base URL",
        show: Show::Plain,
        get: |c| &c.api_base,
    },
];

/// The settings `kind` needs; `api_base` is optional everywhere and nothing else is allowed.
fn required(kind: ChannelKind) -> &'static [&'static str] {
    match kind {
        ChannelKind::Whatsapp => &[
            "app_secret",
            "verify_token",
            "access_token",
            "phone_number_id",
        ],
        ChannelKind::Messenger | ChannelKind::Instagram => {
            &["app_secret", "verify_token", "page_access_token"]
        }
        // Without secret_token nothing authenticates Telegram's webhooks, so it is required.
        ChannelKind::Telegram => &["bot_token", "secret_token"],
        ChannelKind::Viber => &["auth_token", "sender_name"],
        // The client secret signs TikTok's webhooks; the business id is part of every API call.
        ChannelKind::Tiktok => &["access_token", "app_secret", "business_id"],
        ChannelKind::Email => &["smtp_url", "imap_url", "address"],
        ChannelKind::Webchat | ChannelKind::Api => &["secret"],
        ChannelKind::Store => &[],
    }
}

/// Longest setting accepted, in bytes.
const MAX_VALUE_BYTES: usize = 4096;

impl ChannelConfig {
    /// Checks the settings of a `kind` channel: every required one present and well-formed, no
    /// setting another kind uses (a `bot_token` on a WhatsApp channel is a mistake worth
    /// reporting). The message names each offending field.
    pub fn validate(&self, kind: ChannelKind) -> Result<(), String> {
        let needed = required(kind);
        let mut problems = Vec::new();
        let missing: Vec<String> = FIELDS
            .iter()
            .filter(|f| needed.contains(&f.name) && value(self, f).is_none())
            .map(|f| format!("{} ({})", f.name, f.about))
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "a {} channel needs {}",
                kind.as_str(),
                missing.join(", ")
            ));
        }
        let foreign: Vec<&str> = FIELDS
            .iter()
            .filter(|f| {
                f.name != "api_base" && !needed.contains(&f.name) && value(self, f).is_some()
            })
            .map(|f| f.name)
            .collect();
        if !foreign.is_empty() {
            problems.push(format!(
                "{} {} not used by {} channels",
                foreign.join(", "),
                if foreign.len() == 1 { "is" } else { "are" },
                kind.as_str()
            ));
        }
        for f in FIELDS {
            if let Some(v) = value(self, f) {
                if let Err(why) = check_format(f.name, v) {
                    problems.push(format!("{}: {why}", f.name));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// The settings for API answers: secrets as `"***"`, passwords in mail URLs masked, unset
    /// fields left out.
    pub fn redacted(&self) -> serde_json::Value {
        let map = FIELDS
            .iter()
            .filter_map(|f| {
                let v = (f.get)(self).as_deref()?;
                let shown = match f.show {
                    Show::Plain => v.to_string(),
                    Show::Secret => "***".to_string(),
                    Show::UrlWithCredentials => mask_url_password(v),
                };
                Some((f.name.to_string(), serde_json::Value::String(shown)))
            })
            .collect();
        serde_json::Value::Object(map)
    }

    /// `api_base` if set, else the provider's default; never ends with `/`.
    pub fn api_base<'a>(&'a self, default: &'a str) -> &'a str {
        self.api_base
            .as_deref()
            .filter(|b| !b.trim().is_empty())
            .unwrap_or(default)
            .trim()
            .trim_end_matches('/')
    }
}

impl std::fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChannelConfig {}", self.redacted())
    }
}

/// The value of a field, blank counting as unset.
fn value<'a>(cfg: &'a ChannelConfig, f: &Field) -> Option<&'a str> {
    (f.get)(cfg).as_deref().filter(|v| !v.trim().is_empty())
}

fn check_format(name: &str, v: &str) -> Result<(), String> {
    if v.len() > MAX_VALUE_BYTES {
        return Err(format!("longer than {MAX_VALUE_BYTES} bytes"));
    }
    if v.chars().any(char::is_control) {
        return Err("contains control characters".into());
    }
    if v.trim() != v {
        return Err("has leading or trailing spaces".into());
    }
    let token_chars = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    match name {
        // These become part of a URL path, so they must not be able to change it.
        "phone_number_id" if !v.bytes().all(|b| b.is_ascii_digit()) => {
            Err("must be digits only".into())
        }
        "bot_token" => match v.split_once(':') {
            Some((id, rest))
                if !id.is_empty()
                    && id.bytes().all(|b| b.is_ascii_digit())
                    && !rest.is_empty()
                    && token_chars(rest) =>
            {
                Ok(())
            }
            _ => Err(
                "must look like 123456:ABC-DEF (digits, a colon, then letters, digits, _ or -)"
                    .into(),
            ),
        },
        "secret_token" if v.len() > 256 || !token_chars(v) => {
            Err("must be 1-256 characters of A-Z, a-z, 0-9, _ and -".into())
        }
        "sender_name" if v.chars().count() > 28 => Err("Viber allows at most 28 characters".into()),
        "api_base" => {
            let rest = v
                .strip_prefix("https://")
                .or_else(|| v.strip_prefix("http://"));
            match rest {
                Some(r) if !r.is_empty() && !r.contains(['?', '#', ' ']) => Ok(()),
                _ => Err("must be an http:// or https:// URL without query or fragment".into()),
            }
        }
        "smtp_url" if !(v.starts_with("smtp://") || v.starts_with("smtps://")) => {
            Err("must start with smtp:// or smtps://".into())
        }
        "imap_url" if !(v.starts_with("imap://") || v.starts_with("imaps://")) => {
            Err("must start with imap:// or imaps://".into())
        }
        "address" => match v.split_once('@') {
            Some((local, domain))
                if !local.is_empty() && domain.contains('.') && !domain.contains('@') =>
            {
                Ok(())
            }
            _ => Err("is not an email address".into()),
        },
        _ => Ok(()),
    }
}

/// `smtps://user:pw@host` → `smtps://user:***@host`.
fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{scheme}://{masked}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: serde_json::Value) -> ChannelConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_value::<ChannelConfig>(json!({"app_secrett": "x"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `app_secrett`"), "{err}");
    }

    #[test]
    fn missing_fields_are_named() {
        let c = cfg(json!({"app_secret": "s", "verify_token": "v"}));
        let err = c.validate(ChannelKind::Whatsapp).unwrap_err();
        assert!(err.contains("access_token"), "{err}");
        assert!(err.contains("phone_number_id"), "{err}");
        assert!(!err.contains("app_secret"), "{err}");
        let err = ChannelConfig::default()
            .validate(ChannelKind::Telegram)
            .unwrap_err();
        assert!(
            err.contains("bot_token") && err.contains("secret_token"),
            "{err}"
        );
        // Blank counts as missing.
        let c = cfg(json!({"auth_token": " ", "sender_name": "Shop"}));
        assert!(c
            .validate(ChannelKind::Viber)
            .unwrap_err()
            .contains("auth_token"));
    }

    #[test]
    fn complete_configs_validate() {
        let ok = [
            (
                ChannelKind::Whatsapp,
                json!({"app_secret": "s", "verify_token": "v", "access_token": "t", "phone_number_id": "1122334455667"}),
            ),
            (
                ChannelKind::Messenger,
                json!({"app_secret": "s", "verify_token": "v", "page_access_token": "t", "api_base": "http://127.0.0.1:9000/v21.0/"}),
            ),
            (
                ChannelKind::Instagram,
                json!({"app_secret": "s", "verify_token": "v", "page_access_token": "t"}),
            ),
            (
                ChannelKind::Telegram,
                json!({"bot_token": "123456:ABC-def_1", "secret_token": "s3cr3t_-x"}),
            ),
            (
                ChannelKind::Viber,
                json!({"auth_token": "t", "sender_name": "Shop"}),
            ),
            (
                ChannelKind::Tiktok,
                json!({"access_token": "t", "app_secret": "s", "business_id": "biz-1"}),
            ),
            (
                ChannelKind::Email,
                json!({"smtp_url": "smtps://u:p@mail.example.com", "imap_url": "imaps://u:p@mail.example.com", "address": "help@example.com"}),
            ),
            (ChannelKind::Webchat, json!({"secret": "k"})),
            (ChannelKind::Api, json!({"secret": "k"})),
            (ChannelKind::Store, json!({})),
        ];
        for (kind, v) in ok {
            assert_eq!(cfg(v).validate(kind), Ok(()), "{kind:?}");
        }
    }

    #[test]
    fn formats_that_reach_urls_are_checked() {
        let base = json!({"app_secret": "s", "verify_token": "v", "access_token": "t"});
        let mut v = base.clone();
        v["phone_number_id"] = json!("123/../me");
        assert!(cfg(v)
            .validate(ChannelKind::Whatsapp)
            .unwrap_err()
            .contains("phone_number_id: must be digits only"));
        let bad_tokens = ["123456", "abc:def", "123:a/b", "123:a?b"];
        for t in bad_tokens {
            let c = cfg(json!({"bot_token": t, "secret_token": "s"}));
            assert!(
                c.validate(ChannelKind::Telegram)
                    .unwrap_err()
                    .contains("bot_token"),
                "{t}"
            );
        }
        let c = cfg(json!({"bot_token": "1:a", "secret_token": "has space"}));
        assert!(c
            .validate(ChannelKind::Telegram)
            .unwrap_err()
            .contains("secret_token"));
        let c = cfg(json!({"auth_token": "t", "sender_name": "x".repeat(29)}));
        assert!(c.validate(ChannelKind::Viber).unwrap_err().contains("28"));
        let c = cfg(json!({"secret": "k", "api_base": "ftp://x"}));
        assert!(c
            .validate(ChannelKind::Api)
            .unwrap_err()
            .contains("api_base"));
    }

    #[test]
    fn settings_of_other_kinds_are_refused() {
        let c = cfg(json!({"bot_token": "1:a", "secret_token": "s", "page_access_token": "p"}));
        let err = c.validate(ChannelKind::Telegram).unwrap_err();
        assert!(
            err.contains("page_access_token is not used by telegram channels"),
            "{err}"
        );
    }

    #[test]
    fn redacted_hides_secrets_and_passwords() {
        let c = cfg(json!({
            "app_secret": "s1", "verify_token": "v1", "access_token": "t1",
            "phone_number_id": "42", "smtp_url": "smtps://ana:hunter2@mail.example.com:465/x",
            "imap_url": "imaps://mail.example.com"
        }));
        let r = c.redacted();
        assert_eq!(
            r,
            json!({
                "app_secret": "***", "verify_token": "***", "access_token": "***",
                "phone_number_id": "42", "smtp_url": "smtps://ana:***@mail.example.com:465/x",
                "imap_url": "imaps://mail.example.com"
            })
        );
        let debug = format!("{c:?}");
        for secret in ["s1", "v1", "t1", "hunter2"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn api_base_defaults_and_loses_trailing_slash() {
        let c = cfg(json!({"api_base": "http://127.0.0.1:8080/"}));
        assert_eq!(c.api_base("https://x"), "http://127.0.0.1:8080");
        assert_eq!(ChannelConfig::default().api_base("https://x/"), "https://x");
    }
}
