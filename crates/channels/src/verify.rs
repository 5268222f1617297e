//! The pieces every signature check is made of: header lookup, hex decoding, HMAC-SHA256
//! verification and a constant-time comparison for shared secrets. The HMAC and hex helpers are
//! public: the web chat's visitor check and the benchmark sign with them too.

use crate::Rejection;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The single value of header `name`. Two headers of that name are ambiguous (which one did the
/// provider sign?), so they are refused like a missing one.
pub(crate) fn single_header<'a>(
    headers: &'a [(String, String)],
    name: &str,
) -> Result<&'a str, Rejection> {
    let mut found = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str());
    match (found.next(), found.next()) {
        (Some(v), None) => Ok(v.trim()),
        (None, _) => Err(Rejection::Unauthorized(format!("missing {name} header"))),
        (Some(_), Some(_)) => Err(Rejection::Unauthorized(format!(
            "more than one {name} header"
        ))),
    }
}

/// The configured secret, or a rejection saying which setting is missing: a channel that cannot
/// authenticate its webhooks accepts none.
pub(crate) fn configured<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, Rejection> {
    match value.as_deref() {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(Rejection::Unauthorized(format!(
            "the channel has no {field} configured, so its webhooks cannot be verified"
        ))),
    }
}

/// Decodes lower- or upper-case hex; `None` on any other character or an odd length.
pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// Lower-case hex.
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Checks `signature_hex` against HMAC-SHA256(`key`, concatenation of `parts`), in constant time.
pub fn verify_hmac_sha256_hex(
    key: &str,
    parts: &[&[u8]],
    signature_hex: &str,
    header: &str,
) -> Result<(), Rejection> {
    let Some(expected) = decode_hex(signature_hex).filter(|s| s.len() == 32) else {
        return Err(Rejection::Unauthorized(format!(
            "{header} is not 64 hex digits"
        )));
    };
    let mut mac = HmacSha256::new_from_slice(key.as_bytes())
        .map_err(|_| Rejection::Unauthorized("unusable signing key".into()))?;
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(&expected)
        .map_err(|_| Rejection::Unauthorized(format!("{header} does not match the body")))
}

/// HMAC-SHA256 of the concatenation of `parts`, as lower-case hex.
pub fn hmac_sha256_hex(key: &str, parts: &[&[u8]]) -> String {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    encode_hex(&mac.finalize().into_bytes())
}

/// Compares two secrets without leaking, through timing, how long a prefix matched. The length
/// of the expected value may leak; it is not secret (providers document it).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold back into an early-exit comparison.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_rejects_junk() {
        assert_eq!(decode_hex("00ffA0"), Some(vec![0, 255, 160]));
        assert_eq!(encode_hex(&[0, 255, 160]), "00ffa0");
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("é1"), None);
    }

    #[test]
    fn hmac_matches_the_readme_vector() {
        let body = crate::test_support::fixture("whatsapp", "text_message.json");
        assert_eq!(
            hmac_sha256_hex("test_app_secret", &[&body]),
            "539004114ddfe258e472eeb3020fd0ca0e57951a627b90e437862aa3b9963c1d"
        );
        // Parts are concatenated.
        let (a, b) = body.split_at(10);
        assert_eq!(
            hmac_sha256_hex("test_app_secret", &[a, b]),
            hmac_sha256_hex("test_app_secret", &[&body])
        );
    }

    #[test]
    fn ct_eq_compares_whole_values() {
        assert!(ct_eq(b"secret", b"secret"));
        assert!(!ct_eq(b"secret", b"secreT"));
        assert!(!ct_eq(b"secret", b"secret2"));
        assert!(!ct_eq(b"", b"x"));
        assert!(ct_eq(b"", b""));
    }

    #[test]
    fn duplicate_headers_are_refused() {
        let h = vec![
            ("x-a".to_string(), "1".to_string()),
            ("X-A".to_string(), "2".to_string()),
        ];
        assert!(single_header(&h, "x-a").is_err());
        assert_eq!(single_header(&h[..1], "x-a"), Ok("1"));
        assert!(single_header(&h, "x-b").is_err());
    }
}
