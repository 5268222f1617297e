//! Polling a mailbox over IMAP: the few commands needed to fetch mail that arrived since the last
//! poll (RFC 9051 / RFC 3501 subset), blocking, over plain TCP, implicit TLS or STARTTLS.
//!
//! Mail is fetched with `BODY.PEEK[]`, so nothing is marked read or moved: the mailbox stays the
//! brand's, and Concierge only remembers the highest UID it has seen.

mod response;

use response::{parse, read_response, Value, MAX_LITERAL};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io::{BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Messages fetched per poll at most; the next poll continues from the returned UID.
const MAX_BATCH_MESSAGES: usize = 100;
/// Bytes fetched per poll at most (the first message always comes, whatever its size).
const MAX_BATCH_BYTES: u64 = 32 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// Fetches the mail with a UID above `since_uid` from the mailbox named by `imap_url`, oldest
/// first. Returns the UID to pass next time (`since_uid` when nothing is new) and the raw mails.
///
/// `imap_url`:
/// - `imap://user:password@host[:port][/Mailbox]`: plain TCP, port 143 (password sent in clear:
///   only for a local server).
/// - `imap://…?tls=starttls`: STARTTLS required, port 143.
/// - `imaps://…`: TLS from the first byte, port 993.
///
/// User and password are percent-encoded in the URL; the mailbox defaults to `INBOX` (ASCII names
/// only). Certificates are checked against the bundled Mozilla roots.
///
/// At most 100 mails or 32 MiB come per call (at least one mail whatever its size); call again
/// with the returned UID until it stops moving. Mail over 100 MiB is skipped. The returned UID
/// only means something while the mailbox's UIDVALIDITY stays the same; this function does not
/// report it (see the crate's notes).
pub fn poll_imap(imap_url: &str, since_uid: u32) -> Result<(u32, Vec<Vec<u8>>), String> {
    let config = ImapConfig::parse(imap_url)?;
    poll(&config, since_uid, default_tls)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    Plain,
    Tls,
    StartTls,
}

#[derive(Debug, Clone)]
struct ImapConfig {
    host: String,
    port: u16,
    security: Security,
    user: String,
    password: String,
    mailbox: String,
}

impl ImapConfig {
    fn parse(imap_url: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid IMAP URL: {why}");
        let url = url::Url::parse(imap_url).map_err(|e| bad(&e.to_string()))?;
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.to_ascii_lowercase());
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("imap", None | Some("none")) => (Security::Plain, 143),
            ("imap", Some("starttls" | "required")) => (Security::StartTls, 143),
            ("imaps", _) => (Security::Tls, 993),
            (scheme, tls) => {
                return Err(bad(&format!(
                    "unsupported scheme {scheme:?} or tls={tls:?} (imap, imap?tls=starttls, imaps)"
                )))
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad("not UTF-8 after percent-decoding"))
        };
        let user = decode(url.username())?;
        if user.is_empty() {
            return Err(bad("no user name"));
        }
        let mailbox = decode(url.path().trim_matches('/'))?;
        Ok(ImapConfig {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            user,
            password: decode(url.password().unwrap_or_default())?,
            mailbox: if mailbox.is_empty() {
                "INBOX".into()
            } else {
                mailbox
            },
        })
    }
}

fn default_tls() -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    tls_with_roots(roots)
}

/// Explicitly ring: `ClientConfig::builder()` would panic if another crate in the final binary
/// enabled a second crypto provider.
fn tls_with_roots(roots: RootCertStore) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn poll(
    config: &ImapConfig,
    since_uid: u32,
    tls: impl Fn() -> Result<Arc<ClientConfig>, String>,
) -> Result<(u32, Vec<Vec<u8>>), String> {
    let Some(first_new) = since_uid.checked_add(1) else {
        return Ok((since_uid, Vec::new()));
    };
    let mut session = Session::open(config, &tls)?;
    let result = session.fetch_new(&config.mailbox, since_uid, first_new);
    session.logout();
    result
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A command argument: an atom sent as is, or a string sent quoted (or as a literal when it has
/// bytes a quoted string cannot carry, e.g. a non-ASCII password).
enum Arg<'a> {
    Atom(&'a str),
    Str(&'a str),
}

struct Session {
    io: BufReader<Stream>,
    next_tag: u32,
}

impl Session {
    fn open(
        config: &ImapConfig,
        tls: &dyn Fn() -> Result<Arc<ClientConfig>, String>,
    ) -> Result<Self, String> {
        let tcp = connect(&config.host, config.port)?;
        let stream = match config.security {
            Security::Tls => wrap_tls(tcp, &config.host, tls()?)?,
            Security::Plain | Security::StartTls => Stream::Plain(tcp),
        };
        let mut session = Session {
            io: BufReader::new(stream),
            next_tag: 1,
        };
        let mut preauth = session.greeting()?;
        if config.security == Security::StartTls {
            session.command("STARTTLS", &[Arg::Atom("STARTTLS")])?;
            // Anything the server sent after its OK would be read as if it came over TLS: refuse
            // it (the STARTTLS command-injection attack).
            if !session.io.buffer().is_empty() {
                return Err("IMAP server sent data after STARTTLS; refusing to continue".into());
            }
            let Stream::Plain(tcp) = session.io.into_inner() else {
                return Err("STARTTLS on a TLS connection".into());
            };
            session = Session {
                io: BufReader::new(wrap_tls(tcp, &config.host, tls()?)?),
                next_tag: session.next_tag,
            };
            // Capabilities and pre-authentication learnt in the clear no longer count.
            preauth = false;
        }
        if !preauth {
            session.command(
                "LOGIN",
                &[
                    Arg::Atom("LOGIN"),
                    Arg::Str(&config.user),
                    Arg::Str(&config.password),
                ],
            )?;
        }
        Ok(session)
    }

    /// The server's first line: `* OK`, `* PREAUTH` (returns true) or `* BYE`.
    fn greeting(&mut self) -> Result<bool, String> {
        let raw = read_response(&mut self.io)?;
        let items = parse(&raw);
        match items.get(1) {
            Some(v) if v.atom_is("OK") => Ok(false),
            Some(v) if v.atom_is("PREAUTH") => Ok(true),
            _ => Err(format!(
                "IMAP server refused the connection: {}",
                String::from_utf8_lossy(&raw)
            )),
        }
    }

    fn fetch_new(
        &mut self,
        mailbox: &str,
        since_uid: u32,
        first_new: u32,
    ) -> Result<(u32, Vec<Vec<u8>>), String> {
        self.command("SELECT", &[Arg::Atom("SELECT"), Arg::Str(mailbox)])?;

        let range = format!("{first_new}:*");
        let search = self.command(
            "UID SEARCH",
            &[Arg::Atom("UID SEARCH UID"), Arg::Atom(&range)],
        )?;
        // `n:*` always includes the highest UID, even when it is below n: filter.
        let mut uids: Vec<u32> = search
            .iter()
            .filter(|items| items.get(1).is_some_and(|v| v.atom_is("SEARCH")))
            .flat_map(|items| items[2..].iter().filter_map(Value::number))
            .filter(|&uid| uid > since_uid)
            .collect();
        uids.sort_unstable();
        uids.dedup();
        uids.truncate(MAX_BATCH_MESSAGES);
        if uids.is_empty() {
            return Ok((since_uid, Vec::new()));
        }

        let sizes = self.fetch(&uids, "(UID RFC822.SIZE)")?;
        let mut batch: Vec<u32> = Vec::new();
        let mut total: u64 = 0;
        let mut last_considered = since_uid;
        for &uid in &uids {
            let size = sizes.iter().find(|f| f.uid == uid).and_then(|f| f.size);
            match size {
                // Expunged since the search, or too big to ever fetch: move past it.
                None => {}
                Some(s) if s > MAX_LITERAL as u64 => {}
                Some(s) => {
                    if !batch.is_empty() && total + s > MAX_BATCH_BYTES {
                        break;
                    }
                    total += s;
                    batch.push(uid);
                }
            }
            last_considered = uid;
        }
        if batch.is_empty() {
            return Ok((last_considered, Vec::new()));
        }

        let mut fetched = self.fetch(&batch, "(UID BODY.PEEK[])")?;
        fetched.sort_by_key(|f| f.uid);
        let mails = fetched.into_iter().filter_map(|f| f.body).collect();
        Ok((last_considered, mails))
    }

    fn fetch(&mut self, uids: &[u32], items: &str) -> Result<Vec<Fetched>, String> {
        let set = uid_set(uids);
        let responses = self.command(
            "UID FETCH",
            &[Arg::Atom("UID FETCH"), Arg::Atom(&set), Arg::Atom(items)],
        )?;
        let mut out: Vec<Fetched> = Vec::new();
        for items in responses {
            // `* <seq> FETCH (<name> <value> …)`
            let is_fetch = items.get(2).is_some_and(|v| v.atom_is("FETCH"));
            let Some(Value::List(kv)) = items.get(3).filter(|_| is_fetch) else {
                continue;
            };
            let mut f = Fetched::default();
            for pair in kv.chunks(2) {
                let [key, value] = pair else { break };
                if key.atom_is("UID") {
                    f.uid = value.number().unwrap_or(0);
                } else if key.atom_is("RFC822.SIZE") {
                    f.size = value.number().map(u64::from);
                } else if key.atom_is("BODY[]") {
                    if let Value::Bytes(b) = value {
                        f.body = Some(b.clone());
                    }
                }
            }
            if f.uid == 0 {
                continue;
            }
            // A server may split one message's items over several FETCH responses.
            match out.iter_mut().find(|o| o.uid == f.uid) {
                Some(o) => {
                    o.size = o.size.or(f.size);
                    o.body = o.body.take().or(f.body);
                }
                None => out.push(f),
            }
        }
        Ok(out)
    }

    /// Sends a tagged command and returns its untagged responses once the server says OK.
    /// `name` is for error messages; the arguments (a password) never appear in them.
    fn command(&mut self, name: &str, args: &[Arg<'_>]) -> Result<Vec<Vec<Value>>, String> {
        let tag = format!("a{}", self.next_tag);
        self.next_tag += 1;
        let mut line = tag.clone().into_bytes();
        for arg in args {
            line.push(b' ');
            match arg {
                Arg::Atom(a) => line.extend_from_slice(a.as_bytes()),
                Arg::Str(s) if quotable(s) => {
                    line.push(b'"');
                    for &b in s.as_bytes() {
                        if b == b'"' || b == b'\\' {
                            line.push(b'\\');
                        }
                        line.push(b);
                    }
                    line.push(b'"');
                }
                Arg::Str(s) => {
                    line.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
                    self.send(&line)?;
                    line.clear();
                    self.continuation(&tag, name)?;
                    line.extend_from_slice(s.as_bytes());
                }
            }
        }
        line.extend_from_slice(b"\r\n");
        self.send(&line)?;
        self.tagged(&tag, name)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        let w = self.io.get_mut();
        w.write_all(bytes)
            .and_then(|()| w.flush())
            .map_err(|e| format!("IMAP write failed: {e}"))
    }

    /// Waits for `+` before sending a literal.
    fn continuation(&mut self, tag: &str, name: &str) -> Result<(), String> {
        loop {
            let raw = read_response(&mut self.io)?;
            if raw.starts_with(b"+") {
                return Ok(());
            }
            if raw.starts_with(tag.as_bytes()) {
                return Err(format!(
                    "IMAP {name} refused: {}",
                    String::from_utf8_lossy(&raw[tag.len()..]).trim()
                ));
            }
        }
    }

    fn tagged(&mut self, tag: &str, name: &str) -> Result<Vec<Vec<Value>>, String> {
        let mut untagged = Vec::new();
        loop {
            let raw = read_response(&mut self.io).map_err(|e| format!("IMAP {name}: {e}"))?;
            let items = parse(&raw);
            let Some(first) = items.first() else {
                continue;
            };
            if first.atom_is("*") {
                untagged.push(items);
            } else if first.atom_is(tag) {
                if items.get(1).is_some_and(|v| v.atom_is("OK")) {
                    return Ok(untagged);
                }
                return Err(format!(
                    "IMAP {name} refused: {}",
                    String::from_utf8_lossy(&raw[tag.len()..]).trim()
                ));
            }
            // `+` continuations and other tags cannot belong to this command: skip them.
        }
    }

    fn logout(&mut self) {
        let _ = self.command("LOGOUT", &[Arg::Atom("LOGOUT")]);
    }
}

#[derive(Debug, Default)]
struct Fetched {
    uid: u32,
    size: Option<u64>,
    body: Option<Vec<u8>>,
}

/// Printable ASCII without CR/LF fits a quoted string; anything else goes as a literal.
fn quotable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// `1:3,7,9:10` from sorted UIDs.
fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve IMAP host {host}: {e}"))?;
    let mut last_err = format!("no address for IMAP host {host}");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(tcp) => {
                tcp.set_read_timeout(Some(IO_TIMEOUT))
                    .and_then(|()| tcp.set_write_timeout(Some(IO_TIMEOUT)))
                    .map_err(|e| format!("IMAP socket setup: {e}"))?;
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Err(e) => last_err = format!("cannot connect to IMAP {addr}: {e}"),
        }
    }
    Err(last_err)
}

fn wrap_tls(tcp: TcpStream, host: &str, config: Arc<ClientConfig>) -> Result<Stream, String> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| format!("invalid TLS server name {host:?}: {e}"))?;
    let conn = ClientConnection::new(config, name).map_err(|e| format!("TLS setup: {e}"))?;
    Ok(Stream::Tls(Box::new(StreamOwned::new(conn, tcp))))
}

#[cfg(test)]
mod tests;
