//! Sending through an SMTP relay (the brand's mail provider), blocking: call it from a worker
//! thread or `spawn_blocking`.

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, SmtpTransport, Transport};
use std::time::Duration;

/// Why a send failed, and whether trying again later can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// `true` for 4xx replies and network/TLS trouble: keep the message queued and retry with
    /// backoff. `false` for 5xx replies about the message or recipient, and for bad input: mark it
    /// failed.
    pub retryable: bool,
    pub message: String,
}

impl SendError {
    fn permanent(message: impl Into<String>) -> Self {
        SendError {
            retryable: false,
            message: message.into(),
        }
    }
}

/// How long one SMTP command may take before the send counts as a (retryable) network failure.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `raw` (RFC 5322 bytes, e.g. from [`build_reply`](crate::build_reply)) to `to` with
/// `envelope_from` as the SMTP envelope sender (where bounces go).
///
/// `smtp_url`:
/// - `smtp://host[:port]`: plain, port 25 by default. No TLS at all: for a local relay.
/// - `smtp://host[:port]?tls=starttls` (or `tls=required`): STARTTLS required, port 587 by default.
/// - `smtp://host[:port]?tls=opportunistic`: STARTTLS when offered.
/// - `smtps://host[:port]`: TLS from the first byte, port 465 by default.
///
/// Credentials come from the userinfo, percent-encoded (`smtps://user%40example.com:p%40ss@host`).
/// `?helo=name` sets the EHLO name (default `[127.0.0.1]`). Server certificates are checked
/// against the bundled Mozilla roots.
///
/// Retry rules: 4xx and connection failures are retryable; 5xx are not, except authentication
/// replies (530, 534, 535, 538), which mean our credentials are wrong rather than the message, so
/// the message waits until someone fixes the configuration.
pub fn send_smtp(
    smtp_url: &str,
    envelope_from: &str,
    to: &[&str],
    raw: &[u8],
) -> Result<(), SendError> {
    let envelope = envelope(envelope_from, to)?;
    let transport = transport(smtp_url)?;
    transport
        .send_raw(&envelope, raw)
        .map(|_| ())
        .map_err(classify)
}

fn envelope(from: &str, to: &[&str]) -> Result<Envelope, SendError> {
    let parse = |a: &str| {
        a.trim()
            .parse::<Address>()
            .map_err(|e| SendError::permanent(format!("invalid address {a:?}: {e}")))
    };
    let from = parse(from)?;
    let to = to.iter().map(|a| parse(a)).collect::<Result<Vec<_>, _>>()?;
    Envelope::new(Some(from), to)
        .map_err(|e| SendError::permanent(format!("invalid envelope: {e}")))
}

fn transport(smtp_url: &str) -> Result<SmtpTransport, SendError> {
    let bad = |why: &str| SendError::permanent(format!("invalid SMTP URL: {why}"));
    let url = url::Url::parse(smtp_url).map_err(|e| bad(&e.to_string()))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no host"))?;
    // `Url` keeps IPv6 literals bracketed; the socket and TLS layers want them bare.
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let query = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let tls_params = || {
        TlsParameters::new(host.clone())
            .map_err(|e| SendError::permanent(format!("TLS setup for {host}: {e}")))
    };
    let (tls, default_port) = match (url.scheme(), query("tls").as_deref()) {
        ("smtp", None | Some("none")) => (Tls::None, 25),
        ("smtp", Some("starttls" | "required")) => (Tls::Required(tls_params()?), 587),
        ("smtp", Some("opportunistic")) => (Tls::Opportunistic(tls_params()?), 587),
        ("smtps", _) => (Tls::Wrapper(tls_params()?), 465),
        (scheme, tls) => {
            return Err(bad(&format!(
                "unsupported scheme {scheme:?} or tls={tls:?} (smtp, smtp?tls=starttls, smtps)"
            )))
        }
    };
    let mut builder = SmtpTransport::builder_dangerous(host.as_str())
        .port(url.port().unwrap_or(default_port))
        .tls(tls)
        .timeout(Some(TIMEOUT));
    if !url.username().is_empty() {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad("credentials are not UTF-8"))
        };
        builder = builder.credentials(Credentials::new(
            decode(url.username())?,
            decode(url.password().unwrap_or_default())?,
        ));
    }
    if let Some(helo) = query("helo") {
        builder = builder.hello_name(ClientId::Domain(helo));
    }
    Ok(builder.build())
}

fn classify(e: lettre::transport::smtp::Error) -> SendError {
    let message = e.to_string();
    let retryable = if e.is_permanent() {
        let code = e.status().map(|c| c.to_string()).unwrap_or_default();
        matches!(code.as_str(), "530" | "534" | "535" | "538")
    } else {
        // Transient replies, network, TLS, timeouts, and replies we could not read.
        true
    };
    SendError { retryable, message }
}
