//! Limits on customer-written text. Text is kept as written (escaping is the UI's job) except:
//!
//! - Text over [`MAX_TEXT_BYTES`] is cut at a character boundary and ends with a note saying how
//!   long the original was. No provider sends that much in one message (WhatsApp and Telegram cap
//!   at 4096 characters), so only a forged or broken payload gets here; cutting keeps it from
//!   filling the store, the timeline and the bot's prompt. The raw body stays in the inbound log.
//! - U+0000 becomes U+FFFD: PostgreSQL text columns cannot hold it, and one NUL would make a
//!   message impossible to store, so the webhook would be retried forever.
//! - Display names are cut to [`MAX_NAME_BYTES`] without a note.

/// Longest message text, caption or title kept, in bytes.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// Longest display name kept, in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// Applies the text rules above.
pub fn clamp_text(text: &str) -> String {
    let clean = replace_nul(text);
    if clean.len() <= MAX_TEXT_BYTES {
        return clean;
    }
    let note = format!(
        "\n[truncated by Concierge: the original was {} bytes]",
        clean.len()
    );
    let mut out = cut(&clean, MAX_TEXT_BYTES - note.len()).to_string();
    out.push_str(&note);
    out
}

/// A display name: NULs replaced, cut to [`MAX_NAME_BYTES`], blank names dropped.
pub fn clamp_name(name: &str) -> Option<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(
        cut(&replace_nul(trimmed), MAX_NAME_BYTES)
            .trim_end()
            .to_string(),
    )
}

fn replace_nul(text: &str) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text.to_string()
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_verbatim_markup_included() {
        let t = "<script>alert(1)</script> ñ 🎉\n\ttabs";
        assert_eq!(clamp_text(t), t);
    }

    #[test]
    fn nul_becomes_replacement_character() {
        assert_eq!(clamp_text("a\0b"), "a\u{FFFD}b");
    }

    #[test]
    fn huge_text_is_cut_on_a_char_boundary_with_a_note() {
        let t = "é".repeat(MAX_TEXT_BYTES); // 2 bytes each
        let out = clamp_text(&t);
        assert!(out.len() <= MAX_TEXT_BYTES);
        assert!(out.ends_with(&format!("the original was {} bytes]", t.len())));
        assert!(out.starts_with("éé"));
    }

    #[test]
    fn names_are_trimmed_and_cut() {
        assert_eq!(clamp_name("  Ana  ").as_deref(), Some("Ana"));
        assert_eq!(clamp_name("   "), None);
        assert!(clamp_name(&"x".repeat(1000)).unwrap().len() == MAX_NAME_BYTES);
    }
}
