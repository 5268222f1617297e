//! A real `concierge` process on port 0 with its own data folder, and a tiny HTTP client.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_concierge")
}

/// Creates a key in `dir` and returns its secret (the last line of the output).
pub fn create_key(dir: &Path, name: &str, scope: &str) -> String {
    let out = Command::new(bin())
        .args([
            "keys",
            "create",
            "--name",
            name,
            "--scope",
            scope,
            "--data-dir",
        ])
        .arg(dir)
        .env("CONCIERGE_LOG", "warn")
        .output()
        .expect("run keys create");
    assert!(
        out.status.success(),
        "keys create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string()
}

pub struct Server {
    pub dir: PathBuf,
    pub addr: String,
    pub ingest_key: String,
    pub admin_key: String,
    child: Option<Child>,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    /// A fresh data folder with an ingest and an admin key, and the server running on it.
    pub fn start() -> Server {
        Self::start_with_config("")
    }

    pub fn start_with_config(toml: &str) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        if !toml.is_empty() {
            std::fs::write(dir.join("concierge.toml"), toml).unwrap();
        }
        let ingest_key = create_key(&dir, "website", "ingest");
        let admin_key = create_key(&dir, "ops", "admin");
        let mut s = Server {
            dir,
            addr: String::new(),
            ingest_key,
            admin_key,
            child: None,
            _tmp: Some(tmp),
        };
        s.launch();
        s
    }

    /// Starts the process on the data folder and waits for its "listening on" line.
    pub fn launch(&mut self) {
        let mut child = Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&self.dir)
            .env("CONCIERGE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start concierge serve");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        self.addr = addr.to_string();
        self.child = Some(child);
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    pub fn db_bytes(&self) -> Vec<u8> {
        let mut all = std::fs::read(self.dir.join("concierge.db")).unwrap();
        if let Ok(wal) = std::fs::read(self.dir.join("concierge.db-wal")) {
            all.extend(wal);
        }
        all
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        http(&self.addr, method, path, headers, body)
    }

    /// A tracking call authenticated with the ingest key (HTTP Basic `key:`).
    pub fn track(&self, path: &str, body: &Value) -> Response {
        let auth = format!("Basic {}", b64(&format!("{}:", self.ingest_key)));
        self.request(
            "POST",
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
    }

    pub fn admin(&self, method: &str, path: &str, body: Option<&Value>) -> Response {
        let auth = format!("Bearer {}", self.admin_key);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.request(
            method,
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
    }

    /// The newest page of a customer's timeline.
    pub fn timeline(&self, id: &Value) -> Value {
        self.admin("GET", &format!("/api/v1/customers/{id}/timeline"), None)
            .json()
    }

    /// Runs `concierge import segment FILE` on this server's data folder, beside the server.
    pub fn import(&self, file: &Path) -> std::process::Output {
        Command::new(bin())
            .args(["import", "segment"])
            .arg(file)
            .arg("--data-dir")
            .arg(&self.dir)
            .env("CONCIERGE_LOG", "warn")
            .output()
            .unwrap()
    }

    /// The 360° view of whoever holds `identifier` (`kind:value`).
    pub fn customer_by(&self, identifier: &str) -> Response {
        self.admin(
            "GET",
            &format!("/api/v1/customers?identifier={}", urlencode(identifier)),
            None,
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request with `Connection: close`.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 || data.len() < eol + 2 + size + 2 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

pub fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The workspace root (for the Python virtualenv and Node modules the client tests use).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Debian's chromium, which `.ci/run` installs (`CHROMIUM` overrides the path).
pub fn chromium() -> String {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "this test drives Debian's chromium ({chromium}); .ci/run installs it"
    );
    chromium
}

/// A browser driver (`node tests/clients/NAME.mjs …`) that prints one marker per step passed,
/// or `FAIL: reason`; diagnostics go to the test's stderr.
pub struct Driver {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    seen: Vec<String>,
}

impl Driver {
    pub fn spawn(mut command: Command) -> Driver {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run node with a tests/clients driver");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Driver {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for `marker`; fails on `FAIL` or if the driver ends first.
    pub fn expect(&mut self, marker: &str) {
        loop {
            let line = self
                .lines
                .next()
                .unwrap_or_else(|| {
                    panic!("the browser driver ended before {marker}: {:?}", self.seen)
                })
                .unwrap();
            self.seen.push(line.clone());
            assert!(!line.starts_with("FAIL"), "{line} (after {:?})", self.seen);
            if line.trim() == marker {
                return;
            }
        }
    }

    /// The driver must exit successfully.
    pub fn finish(mut self) {
        let ok = self.child.wait().unwrap().success();
        assert!(ok, "{:?}", self.seen);
    }
}
