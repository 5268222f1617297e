//! Integration tests of the e-mail channel, in one binary to link once.

mod charsets;
mod fixtures;
mod imap;
mod kinds;
mod malformed;
mod reply;
mod smtp;

/// A mail from the shared fixtures (copied into the repository so tests run on a clean checkout).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/email")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
