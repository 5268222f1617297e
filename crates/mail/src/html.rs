//! HTML bodies: sanitised for display, and turned into plain text when a mail has no text part.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::OnceLock;

/// Sanitises an untrusted HTML body for display in the agent inbox.
///
/// Allow-list, not block-list: ammonia's default tags minus nothing, but only `http`, `https`,
/// `mailto` and `tel` links; relative URLs are dropped (they would resolve against Concierge's own
/// origin); `<img src>` survives only as `cid:` (an inline part of the same mail), so opening a mail
/// never contacts a remote server (tracking pixels, IP leaks); `style` attributes keep only
/// properties that cannot load anything; `<script>`, `<style>` and `<title>` lose their content;
/// event handlers never pass; links get `rel="noopener noreferrer"`.
pub fn sanitize(html: &str) -> String {
    cleaner().clean(html).to_string().trim().to_string()
}

fn cleaner() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.url_schemes(HashSet::from(["http", "https", "mailto", "tel", "cid"]))
            .url_relative(ammonia::UrlRelative::Deny)
            .link_rel(Some("noopener noreferrer"))
            .add_clean_content_tags(["title"])
            .add_generic_attributes(["style"])
            .filter_style_properties(HashSet::from([
                "color",
                "background-color",
                "font-weight",
                "font-style",
                "text-align",
                "text-decoration",
            ]))
            .attribute_filter(|element, attribute, value| {
                let is_cid = value
                    .get(..4)
                    .is_some_and(|s| s.eq_ignore_ascii_case("cid:"));
                match (element, attribute) {
                    // Remote images load on display: keep only the mail's own inline parts.
                    ("img", "src") if !is_cid => None,
                    // `cid:` means something only as an image source.
                    (_, "href") if is_cid => None,
                    _ => Some(Cow::Borrowed(value)),
                }
            });
        b
    })
}

/// Plain text of *sanitised* HTML (the serialiser's output: attributes double-quoted, no script or
/// style content). Block elements become line breaks, `<blockquote>` lines get a `> ` prefix per
/// level so the quote stripper treats them like quoted plain text.
pub fn to_text(clean: &str) -> String {
    let mut w = TextWriter::default();
    let mut rest = clean;
    while let Some(lt) = rest.find('<') {
        w.text(&rest[..lt]);
        let tag_end = tag_end(&rest[lt..]).map_or(rest.len(), |e| lt + e);
        w.tag(&rest[lt..tag_end]);
        rest = &rest[tag_end..];
    }
    w.text(rest);
    w.finish()
}

/// Byte length of the tag at the start of `s` (through its `>`), skipping quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut in_quote = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            '>' if !in_quote => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// Quote marks per line at most: deeper nesting says nothing more, and a hostile mail nesting
/// thousands of blockquotes must not make every line thousands of bytes long.
const MAX_QUOTE_MARKS: usize = 8;

#[derive(Default)]
struct TextWriter {
    out: String,
    quote_depth: usize,
    pre_depth: usize,
    at_line_start: bool,
    pending_space: bool,
}

impl TextWriter {
    fn text(&mut self, raw: &str) {
        if raw.is_empty() {
            return;
        }
        let decoded = decode_entities(raw);
        if self.pre_depth > 0 {
            for (i, line) in decoded.split('\n').enumerate() {
                if i > 0 {
                    self.hard_break();
                }
                self.push_words(line);
            }
            return;
        }
        let mut first = true;
        for word in decoded.split(|c: char| c.is_ascii_whitespace()) {
            if !first {
                self.pending_space = true;
            }
            first = false;
            if !word.is_empty() {
                if self.pending_space && !self.at_line_start && !self.out.is_empty() {
                    self.out.push(' ');
                }
                self.pending_space = false;
                self.push_words(word);
            }
        }
    }

    fn push_words(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if self.at_line_start || self.out.is_empty() {
            for _ in 0..self.quote_depth.min(MAX_QUOTE_MARKS) {
                self.out.push_str("> ");
            }
            self.at_line_start = false;
        }
        self.out.push_str(s);
    }

    fn hard_break(&mut self) {
        if self.at_line_start && self.quote_depth > 0 {
            for _ in 0..self.quote_depth.min(MAX_QUOTE_MARKS) {
                self.out.push('>');
            }
        }
        self.out.push('\n');
        self.at_line_start = true;
        self.pending_space = false;
    }

    fn soft_break(&mut self) {
        if !self.at_line_start && !self.out.is_empty() {
            self.out.push('\n');
            self.at_line_start = true;
        }
        self.pending_space = false;
    }

    fn tag(&mut self, tag: &str) {
        let inner = tag.trim_start_matches('<').trim_end_matches('>');
        let closing = inner.starts_with('/');
        let name: String = inner
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match name.as_str() {
            "br" => self.hard_break(),
            "blockquote" => {
                self.soft_break();
                if closing {
                    self.quote_depth = self.quote_depth.saturating_sub(1);
                } else {
                    self.quote_depth += 1;
                }
            }
            "pre" => {
                self.soft_break();
                if closing {
                    self.pre_depth = self.pre_depth.saturating_sub(1);
                } else {
                    self.pre_depth += 1;
                }
            }
            "li" if !closing => {
                self.soft_break();
                self.push_words("- ");
            }
            "p" | "div" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "ul" | "ol" | "li" | "dl"
            | "dt" | "dd" | "table" | "tr" | "hr" | "address" | "center" | "section"
            | "article" | "header" | "footer" | "figure" | "caption" => self.soft_break(),
            "td" | "th" if !closing => self.pending_space = true,
            _ => {}
        }
    }

    fn finish(self) -> String {
        tidy_lines(&self.out)
    }
}

/// Trims line ends, collapses runs of blank lines to one, trims the whole.
pub(crate) fn tidy_lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank_run = 0;
    for line in s.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_string()
}

/// The entities html5ever's serialiser writes, plus numeric ones for good measure.
fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let semi = rest.find(';').filter(|&i| i <= 10);
        let decoded = semi.and_then(|i| {
            let c = match &rest[1..i] {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => ' ',
                ent => {
                    let num = ent.strip_prefix('#')?;
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.parse().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, i + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_handlers_and_javascript_links_are_removed() {
        let dirty = r#"<p onclick="steal()">Hi<script>alert(1)</script></p>
            <img src="x" onerror="alert(2)"><a href="javascript:alert(3)">click</a>
            <a href="https://example.com/a">ok</a><iframe src="https://evil.example"></iframe>"#;
        let clean = sanitize(dirty);
        for bad in [
            "script",
            "alert",
            "onclick",
            "onerror",
            "javascript",
            "iframe",
        ] {
            assert!(!clean.contains(bad), "{bad} survived in {clean}");
        }
        assert!(
            clean.contains(r#"<a href="https://example.com/a" rel="noopener noreferrer">ok</a>"#)
        );
    }

    #[test]
    fn remote_images_and_relative_urls_are_dropped_inline_images_kept() {
        let clean = sanitize(
            r#"<img src="https://tracker.example/p.gif" alt="t"><img src="cid:logo@x" alt="l"><a href="/logout">out</a>"#,
        );
        assert!(!clean.contains("tracker"), "{clean}");
        assert!(clean.contains(r#"src="cid:logo@x""#), "{clean}");
        assert!(!clean.contains("/logout"), "{clean}");
    }

    #[test]
    fn styles_keep_only_properties_that_load_nothing() {
        let clean = sanitize(
            r#"<p style="color: red; background: url(https://t.example/x.png); position: fixed">x</p><style>p{}</style>"#,
        );
        assert_eq!(clean, r#"<p style="color:red">x</p>"#);
    }

    #[test]
    fn text_keeps_blocks_on_lines_and_marks_blockquotes() {
        let clean = sanitize(
            "<div>Hello &amp; welcome</div><div>Second<br>line</div><blockquote>old<br>text</blockquote>",
        );
        assert_eq!(
            to_text(&clean),
            "Hello & welcome\nSecond\nline\n> old\n> text"
        );
    }
}
