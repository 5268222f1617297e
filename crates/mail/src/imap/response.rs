//! Reading IMAP server responses (RFC 9051 §4, §7): one response is a line that may carry literals
//! (`{n}\r\n` followed by exactly n bytes, then the rest of the line), parsed into a small tree.

use std::io::{BufRead, Read};

/// Longest line (between literals) we read; a `UID SEARCH` answer for 100 000 messages is ~700 kB.
const MAX_LINE: u64 = 16 << 20;
/// Largest literal we accept: a mail bigger than any provider's size limit, base64-inflated.
pub(crate) const MAX_LITERAL: usize = 100 << 20;
/// Parenthesised lists nest this deep at most (a hostile server must not overflow our stack).
const MAX_DEPTH: usize = 32;

/// One parsed item of a response.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// An atom or number, including bracketed sections (`BODY[]`, `[UIDVALIDITY 3]`).
    Atom(Vec<u8>),
    /// A quoted string or a literal.
    Bytes(Vec<u8>),
    List(Vec<Value>),
}

impl Value {
    pub(crate) fn atom_is(&self, s: &str) -> bool {
        matches!(self, Value::Atom(a) if a.eq_ignore_ascii_case(s.as_bytes()))
    }
    pub(crate) fn number(&self) -> Option<u32> {
        match self {
            Value::Atom(a) => std::str::from_utf8(a).ok()?.parse().ok(),
            _ => None,
        }
    }
}

/// Reads one whole response, literals included, as raw bytes without the final CRLF.
pub(crate) fn read_response<R: BufRead>(r: &mut R) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let start = out.len();
        let n = r
            .by_ref()
            .take(MAX_LINE)
            .read_until(b'\n', &mut out)
            .map_err(|e| format!("IMAP read failed: {e}"))?;
        if n == 0 {
            return Err("IMAP server closed the connection".into());
        }
        if out.last() != Some(&b'\n') {
            return Err("IMAP response line too long or cut off".into());
        }
        let line = trim_crlf(&out[start..]);
        match literal_len(line) {
            Some(len) => {
                if len > MAX_LITERAL {
                    return Err(format!("IMAP literal of {len} bytes is over the limit"));
                }
                let from = out.len();
                out.resize(from + len, 0);
                r.read_exact(&mut out[from..])
                    .map_err(|e| format!("IMAP literal cut off: {e}"))?;
            }
            None => {
                let keep = start + line.len();
                out.truncate(keep);
                return Ok(out);
            }
        }
    }
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `{123}` or `{123+}` at the end of a line announces a literal of 123 bytes.
fn literal_len(line: &[u8]) -> Option<usize> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = &body[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 12 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Parses a whole response (as returned by [`read_response`]) into its items. Unparseable tails
/// are dropped rather than failing: we only look for a few known items.
pub(crate) fn parse(bytes: &[u8]) -> Vec<Value> {
    let mut p = Parser { b: bytes, i: 0 };
    p.items(0)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn items(&mut self, depth: usize) -> Vec<Value> {
        let mut out = Vec::new();
        while self.i < self.b.len() {
            match self.b[self.i] {
                b' ' | b'\r' | b'\n' => self.i += 1,
                b')' => {
                    self.i += 1;
                    if depth > 0 {
                        return out;
                    }
                }
                b'(' => {
                    self.i += 1;
                    if depth >= MAX_DEPTH {
                        self.i = self.b.len();
                        return out;
                    }
                    out.push(Value::List(self.items(depth + 1)));
                }
                b'"' => match self.quoted() {
                    Some(s) => out.push(Value::Bytes(s)),
                    None => return out,
                },
                b'{' => match self.literal() {
                    Some(s) => out.push(Value::Bytes(s)),
                    None => out.push(self.atom()),
                },
                _ => out.push(self.atom()),
            }
        }
        out
    }

    fn quoted(&mut self) -> Option<Vec<u8>> {
        let mut s = Vec::new();
        self.i += 1;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' if self.i + 1 < self.b.len() => {
                    s.push(self.b[self.i + 1]);
                    self.i += 2;
                }
                b'"' => {
                    self.i += 1;
                    return Some(s);
                }
                c => {
                    s.push(c);
                    self.i += 1;
                }
            }
        }
        None
    }

    fn literal(&mut self) -> Option<Vec<u8>> {
        let rest = &self.b[self.i..];
        let close = rest.iter().position(|&b| b == b'}')?;
        let len = literal_len(&rest[..=close])?;
        let mut start = self.i + close + 1;
        if self.b.get(start) == Some(&b'\r') {
            start += 1;
        }
        if self.b.get(start) != Some(&b'\n') {
            return None;
        }
        start += 1;
        let end = start.checked_add(len).filter(|&e| e <= self.b.len())?;
        self.i = end;
        Some(self.b[start..end].to_vec())
    }

    /// Up to a space or parenthesis, except inside `[...]`, where both may appear
    /// (`BODY[HEADER.FIELDS (FROM)]`, `[PERMANENTFLAGS (\Seen)]`).
    fn atom(&mut self) -> Value {
        let start = self.i;
        let mut bracket = 0usize;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'[' => bracket += 1,
                b']' => bracket = bracket.saturating_sub(1),
                b' ' | b'(' | b')' | b'\r' | b'\n' if bracket == 0 => break,
                b'\r' | b'\n' => break,
                _ => {}
            }
            self.i += 1;
        }
        if self.i == start {
            // A stray byte the grammar does not allow here: take it so parsing moves on.
            self.i += 1;
        }
        Value::Atom(self.b[start..self.i].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_inside_a_response_are_read_whole() {
        let wire = b"* 1 FETCH (UID 7 BODY[] {11}\r\nHello\r\nWorl FLAGS (\\Seen))\r\na1 OK\r\n";
        let mut r = &wire[..];
        let resp = read_response(&mut r).unwrap();
        let items = parse(&resp);
        assert!(items[0].atom_is("*"));
        assert_eq!(items[1].number(), Some(1));
        let Value::List(kv) = &items[3] else {
            panic!("{items:?}")
        };
        assert!(kv[0].atom_is("UID"));
        assert_eq!(kv[1].number(), Some(7));
        assert!(kv[2].atom_is("BODY[]"));
        assert_eq!(kv[3], Value::Bytes(b"Hello\r\nWorl".to_vec()));
        assert!(kv[4].atom_is("FLAGS"));
        assert_eq!(read_response(&mut r).unwrap(), b"a1 OK");
    }

    #[test]
    fn quoted_strings_and_bracketed_sections() {
        let items = parse(br#"* OK [PERMANENTFLAGS (\Seen \*)] "a \"b\"" NIL"#);
        assert!(items[2].atom_is(r"[PERMANENTFLAGS (\Seen \*)]"));
        assert_eq!(items[3], Value::Bytes(br#"a "b""#.to_vec()));
        assert!(items[4].atom_is("NIL"));
    }

    #[test]
    fn hostile_input_does_not_panic_or_recurse_forever() {
        let deep = "(".repeat(10_000);
        parse(deep.as_bytes());
        parse(b"* 1 FETCH (BODY[] {999999}\r\nshort)");
        parse(b"{5}");
        parse(b"\"unterminated");
        let mut r = &b"* x {99999999999}\r\n"[..];
        assert!(read_response(&mut r).is_err());
        let mut r = &b"* 1 FETCH (BODY[] {50}\r\nshort"[..];
        assert!(read_response(&mut r).is_err());
    }
}
