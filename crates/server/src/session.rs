//! People signing in: argon2 password hashes, session cookies, CSRF tokens and sign-in
//! throttling.
//!
//! The cookie holds a random token; the store keeps only its SHA-256, so a copy of the database
//! signs nobody in. Every state-changing form carries the session's CSRF token (or the
//! `X-CSRF-Token` header), compared in constant time. The cookie is `HttpOnly`, `SameSite=Lax`,
//! and `Secure` whenever Concierge is reached over HTTPS.

use crate::error::Failure;
use crate::SharedState;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use concierge_types::{ErrorCode, Role, UserView};
use sha2::{Digest, Sha256};

pub const COOKIE: &str = "concierge_session";
/// A session lasts a working day and a half.
pub const SESSION_MS: i64 = 36 * 3600 * 1000;
/// Failed sign-ins allowed per e-mail in [`THROTTLE_WINDOW_MS`] before sign-in is refused.
pub const MAX_FAILURES: u32 = 5;
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Failed sign-ins allowed per client address (any e-mail) in the window.
pub const MAX_ADDRESS_FAILURES: u32 = 50;

/// Password hashing at once: argon2 takes ~19 MiB and tens of milliseconds each, so a flood of
/// sign-ins queues here instead of exhausting memory and CPU.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Runs `f` (a hash or a verify) off the async threads, at most two at a time; refuses after
/// waiting 10 s.
pub async fn with_hashing<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Failure> {
    let busy = || {
        Failure::new(
            ErrorCode::Overloaded,
            "too many sign-ins at once; retry shortly",
        )
    };
    let _permit = tokio::time::timeout(std::time::Duration::from_secs(10), HASHING.acquire())
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Failure::new(ErrorCode::Internal, e.to_string()))
}

pub fn random_token() -> Result<String, Failure> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Failure::new(ErrorCode::Internal, format!("random: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Hashes a password (argon2id, a fresh salt); slow on purpose, so call it off the async threads.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("random: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches `hash`; a malformed hash matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checked before hashing: long enough to resist guessing, short enough not to be a way to
/// make the server hash megabytes.
pub fn check_password(password: &str) -> Result<(), &'static str> {
    let n = password.chars().count();
    if n < 10 {
        return Err("a password needs at least 10 characters");
    }
    if password.len() > 1024 {
        return Err("a password may have at most 1024 bytes");
    }
    Ok(())
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether cookies get `Secure`: always, except over plain HTTP to this machine itself
/// (development and tests), so a TLS proxy that forgets `X-Forwarded-Proto` can't leak them.
pub fn is_https(state: &crate::AppState, headers: &HeaderMap) -> bool {
    let (proto, host) = crate::routes::public_base(state, headers);
    if proto == "https" {
        return true;
    }
    let name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map(|(h, _)| h)
        .unwrap_or(&host);
    !matches!(name, "localhost" | "127.0.0.1" | "[::1]")
}

/// A `Set-Cookie` value with our attributes.
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age_s: i64,
    secure: bool,
    same_site: &str,
) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age_s}; HttpOnly; SameSite={same_site}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// A request from a signed-in person. Pages redirect to the sign-in page without one; the API
/// answers `401`.
pub struct SignedIn {
    pub user: UserView,
    pub csrf: String,
    pub token_hash: String,
}

impl SignedIn {
    /// Checks a form's or script's CSRF token.
    pub fn check_csrf(&self, sent: &str) -> Result<(), Failure> {
        if constant_time_eq(sent, &self.csrf) {
            Ok(())
        } else {
            Err(Failure::new(
                ErrorCode::InvalidCsrf,
                "the form is out of date; reload the page and try again",
            ))
        }
    }

    /// Refuses people whose role is below `role`.
    pub fn require(&self, role: Role) -> Result<(), Failure> {
        if self.user.role >= role {
            Ok(())
        } else {
            Err(Failure::new(
                ErrorCode::Forbidden,
                format!("this needs the {} role", role.as_str()),
            ))
        }
    }
}

impl FromRequestParts<SharedState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Response> {
        let api = parts.uri.path().starts_with("/api/");
        let refuse = || {
            if api {
                Failure::new(ErrorCode::SignInRequired, "sign in first").into_response()
            } else {
                Redirect::to("/login").into_response()
            }
        };
        let Some(token) = cookie(&parts.headers, COOKIE).filter(|t| t.len() == 64) else {
            return Err(refuse());
        };
        let hash = token_hash(token);
        let now = chrono::Utc::now().timestamp_millis();
        match state.store.session(&hash, now).await {
            Ok(Some(s)) => Ok(SignedIn {
                user: s.user,
                csrf: s.csrf,
                token_hash: hash,
            }),
            Ok(None) => Err(refuse()),
            Err(e) => Err(Failure::from(e).into_response()),
        }
    }
}

/// An HTML page answer with the headers every page gets: no inline script may run, nothing may
/// frame it, no MIME sniffing.
pub fn page(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "same-origin"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(check_password("short").is_err());
        assert!(check_password(&"x".repeat(2000)).is_err());
    }

    #[test]
    fn cookies_tokens_and_escaping() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; concierge_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "zz"), None);
        let t = random_token().unwrap();
        assert_eq!(t.len(), 64);
        assert_ne!(t, random_token().unwrap());
        assert!(
            constant_time_eq("abc", "abc")
                && !constant_time_eq("abc", "abd")
                && !constant_time_eq("a", "ab")
        );
        assert_eq!(
            esc("<img onerror='x'>&\""),
            "&lt;img onerror=&#39;x&#39;&gt;&amp;&quot;"
        );
    }
}
